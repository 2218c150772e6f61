/** Every diagnostic code the source can emit is documented in docs/validation.md. */
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.generated.ts') ? [path.join(dir, e.name)] : []));
}

describe('docs/validation.md', () => {
  const doc = readFileSync('docs/validation.md', 'utf8');
  const codes = new Set<string>();
  for (const f of sources('src')) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/(?:\berror|\bwarning|ctx\.error|ctx\.warning|push\w*)\(\s*'([a-z0-9]+(?:-[a-z0-9]+)+)'/g)) codes.add(m[1]!);
    for (const m of text.matchAll(/\bcode: '([a-z0-9]+(?:-[a-z0-9]+)+)'/g)) codes.add(m[1]!);
  }
  const problemCodes = /export type DialPlanProblemCode =([^;]+);/.exec(readFileSync('src/dialplan/types.ts', 'utf8'))![1]!;
  for (const m of problemCodes.matchAll(/'([a-z-]+)'/g)) codes.add(m[1]!);
  it('finds the codes in the source', () => {
    expect(codes.size).toBeGreaterThan(50);
    expect(codes).toContain('extension-conflict');
    expect(codes).toContain('regex-backtracking');
  });
  it.each([...codes].sort())('documents %s', (code) => {
    expect(doc).toContain(`\`${code}\``);
  });
});
