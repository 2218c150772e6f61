/**
 * Build step (`npm run build`): write ajv standalone validators for every kind to
 * dist/schema/validators.generated.cjs, stamped with the digest of the schemas they came from.
 */
import { writeFileSync } from 'node:fs';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { KIND_NAMES } from '../model/kinds.js';
import { allSecretPatterns, createAjv, kindSchemas, PRECOMPILED, SCHEMA_DIR, SCHEMA_ID_BASE, schemaDigest } from './registry.js';

const standalone = standaloneCode as unknown as typeof standaloneCode.default;

const schemas = kindSchemas(SCHEMA_DIR);
const ajv = createAjv({ standalone: true });
for (const s of schemas.values()) ajv.addSchema(s);
const code = standalone(ajv, Object.fromEntries(KIND_NAMES.map((k) => [k, `${SCHEMA_ID_BASE}${k}.schema.json`])));
writeFileSync(
  PRECOMPILED,
  `${code}\nmodule.exports.digest = ${JSON.stringify(schemaDigest(SCHEMA_DIR))};\nmodule.exports.secretPatterns = ${JSON.stringify(allSecretPatterns(schemas))};\n`,
);
process.stdout.write(`precompiled ${KIND_NAMES.length} validators (${(code.length / 1024).toFixed(0)} KiB)\n`);
