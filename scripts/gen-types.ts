/**
 * Generate `src/model/types.generated.ts` from the JSON Schemas (the source of truth).
 * `npm run gen:types` writes it; `--check` exits 1 when the checked-in file is stale
 * (a test runs the same comparison).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generateTypes, TYPES_FILE } from './types.js';

const check = process.argv.includes('--check');
const generated = await generateTypes();
const path = fileURLToPath(TYPES_FILE);
if (check) {
  const current = readFileSync(path, 'utf8');
  if (current !== generated) {
    process.stderr.write(`${path} is stale: run npm run gen:types\n`);
    process.exit(1);
  }
} else {
  writeFileSync(path, generated);
  process.stdout.write(`wrote ${path}\n`);
}
