/** Files generated from the schemas are checked in; they must match what the schemas produce. */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generated } from '../scripts/generated.js';

describe('generated files are up to date (run `npm run gen` after changing schemas/)', async () => {
  const files = await generated();
  it.each(files.map((f) => [fileURLToPath(f.file).replace(/^.*\/main\//, ''), f] as const))('%s', (_name, f) => {
    expect(readFileSync(f.file, 'utf8') === f.content).toBe(true);
  });
});
