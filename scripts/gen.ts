/**
 * `npm run gen`: regenerate every file derived from the schemas — TypeScript types, the
 * editor schema and the resource reference. `npm run gen -- --check` (and a test) fail when a
 * checked-in file is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generated } from './generated.js';

const check = process.argv.includes('--check');
let stale = 0;
for (const { file, content } of await generated()) {
  const path = fileURLToPath(file);
  if (check) {
    let current = '';
    try {
      current = readFileSync(path, 'utf8');
    } catch {
      // missing counts as stale
    }
    if (current !== content) {
      process.stderr.write(`${path} is stale: run npm run gen\n`);
      stale++;
    }
  } else {
    writeFileSync(path, content);
    process.stdout.write(`wrote ${path}\n`);
  }
}
process.exitCode = stale > 0 ? 1 : 0;
