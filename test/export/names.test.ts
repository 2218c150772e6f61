// Export writes one folder per company and domain, named after them: names are free text, so
// `..` must not write outside the export folder, and a name the loader skips (a dot-name,
// node_modules) must not make its resources vanish when the export is read back.
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { exportState } from '../../src/export/export.js';
import type { LiveResource } from '../../src/runtime/types.js';
import { tempDir, writeTree } from '../helpers.js';
import { validateConfig } from '../../src/validate/validate.js';
import { processSecretSource } from '../../src/config/secrets.js';

const live = (kind: LiveResource['kind'], id: string, body: Record<string, unknown>): LiveResource =>
  ({ kind, id, body, manager: 'config', revision: 1, updatedAt: '2026-01-01T00:00:00Z', updatedBy: 'test', via: 'plan' }) as unknown as LiveResource;

describe('export folder names', () => {
  const names = ['..', '.hidden', 'node_modules', '.', 'a..b'];
  const resources = names.flatMap((c) => [live('Company', c, { name: c }), live('Domain', `${c}/..`, { company: c, name: '..' }), live('Group', `${c}/../All`, { domain: `${c}/..`, name: 'All' })]);

  it('never leave the export folder, and are never skipped by the loader when read back', () => {
    const out = exportState(resources);
    for (const file of out.files.keys()) {
      expect(path.normalize(file).startsWith('..')).toBe(false);
      expect(file.split('/').some((p) => p.startsWith('.') || p === 'node_modules')).toBe(false);
    }
    const dir = tempDir();
    writeTree(dir, Object.fromEntries(out.files));
    const r = validateConfig('.', { secrets: processSecretSource({}, dir), cwd: dir });
    expect(r.state.resources.map((x) => `${x.kind} ${x.id}`).sort()).toEqual(resources.map((x) => `${x.kind} ${x.id}`).sort());
  });
});
