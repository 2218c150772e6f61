/**
 * Validation of request bodies against {@link API_SCHEMAS} with ajv's 2020-12 dialect (strict,
 * all errors, no coercion, nothing removed): a wrong shape is a 400 that says where and what,
 * before anything reaches the runtime.
 */
import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Ajv2020 } from 'ajv/dist/2020.js';
import { API_SCHEMAS } from './schemas.js';
import { HttpError } from './errors.js';

const require = createRequire(import.meta.url);
const API_ID = 'https://switchboard.dev/schemas/v1/api.json';

let ajv: Ajv2020 | undefined;
const compiled = new Map<string, ValidateFunction>();

function validator(name: string): ValidateFunction {
  let v = compiled.get(name);
  if (!v) {
    if (!ajv) {
      const Ajv = (require('ajv/dist/2020.js') as { default: new (o: object) => Ajv2020 }).default;
      const addFormats = (require('ajv-formats') as { default: (a: Ajv2020) => void }).default;
      ajv = new Ajv({ strict: true, allErrors: true, discriminator: true, coerceTypes: false, useDefaults: false, removeAdditional: false });
      addFormats(ajv);
      ajv.addSchema({ $id: API_ID, $defs: API_SCHEMAS });
    }
    v = ajv.getSchema(`${API_ID}#/$defs/${name}`);
    if (!v) throw new Error(`no API schema ${name}`);
    compiled.set(name, v);
  }
  return v;
}

/** The body as `T` when it matches the API schema `name`; otherwise a 400 naming every problem (up to 10). */
export function checkBody<T>(name: string, body: unknown): T {
  if (body === undefined || body === null) throw new HttpError(400, 'bad-request', `a JSON ${name} body is required (Content-Type: application/json)`);
  const v = validator(name);
  if (v(body)) return body as T;
  const messages = [...new Set((v.errors ?? []).map(describe))];
  const shown = messages.slice(0, 10);
  const more = messages.length > shown.length ? ` (and ${messages.length - shown.length} more)` : '';
  throw new HttpError(400, 'bad-request', `invalid ${name}: ${shown.join('; ')}${more}`);
}

function describe(e: ErrorObject): string {
  const at = e.instancePath === '' ? 'the body' : e.instancePath.slice(1);
  switch (e.keyword) {
    case 'additionalProperties':
      return `${at} has an unknown field '${String(e.params.additionalProperty)}'`;
    case 'required':
      return `${at} is missing '${String(e.params.missingProperty)}'`;
    case 'enum':
      return `${at} must be one of ${(e.params.allowedValues as unknown[]).map(String).join(', ')}`;
    case 'const':
      return `${at} must be ${JSON.stringify(e.params.allowedValue)}`;
    case 'discriminator':
      return `${at}/${String(e.params.tag)} must be one of create, update, delete`;
    default:
      return `${at} ${e.message ?? 'is invalid'}`;
  }
}
