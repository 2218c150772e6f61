/**
 * `npm run gen:openapi`: write docs/openapi.json, the OpenAPI 3.1 description of the runtime's
 * HTTP API (src/server/openapi.ts builds it; `switchboard serve` also serves it at
 * `/openapi.json`). `npm run gen:openapi -- --check` (and test/server/openapi.test.ts) fail when
 * the file is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { openapiText } from '../src/server/openapi.js';

export { openapiDocument, openapiText } from '../src/server/openapi.js';

export const OPENAPI_FILE = new URL('../docs/openapi.json', import.meta.url);

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = fileURLToPath(OPENAPI_FILE);
  const content = openapiText();
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(file, 'utf8');
    } catch {
      // missing counts as stale
    }
    if (current !== content) {
      process.stderr.write(`${file} is stale: run npm run gen:openapi\n`);
      process.exitCode = 1;
    }
  } else {
    writeFileSync(file, content);
    process.stdout.write(`wrote ${file}\n`);
  }
}
