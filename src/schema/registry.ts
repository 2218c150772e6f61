/**
 * The JSON Schemas in `schemas/` compiled with ajv: validation of one resource body, with
 * every ajv error turned into a readable problem at a path, and the paths of its secret
 * fields (the `x-secret` keyword).
 *
 * The schemas are the single source of truth for fields; nothing here restates them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction, AnySchemaObject } from 'ajv';
import type addFormatsModule from 'ajv-formats';
import { KIND_NAMES, type KindName } from '../model/kinds.js';
import { EMAIL_PATTERN } from '../model/field-checks.js';
import { fieldPath, type NodePath } from '../diagnostics.js';
import { didYouMean } from '../util/suggest.js';
import { inlineRefs } from './inline.js';

// ajv itself (the compiler) is loaded only when schemas must be compiled: the CLI normally
// runs the precompiled validators, and loading the compiler costs more than validating.
const require = createRequire(import.meta.url);

/** The directory holding `<Kind>.schema.json`, next to `src/` and `dist/`. */
export const SCHEMA_DIR = fileURLToPath(new URL('../../schemas/', import.meta.url));

export const SCHEMA_ID_BASE = 'https://switchboard.dev/schemas/v1/';

/** A schema violation at a path inside the resource body. */
export interface SchemaProblem {
  readonly code: string;
  readonly message: string;
  readonly path: NodePath;
  /** Point at the key (unknown fields) rather than the value. */
  readonly key?: boolean;
}

export interface SchemaResult {
  readonly problems: readonly SchemaProblem[];
  /** Paths of the secret-marked string values present in the body. */
  readonly secrets: readonly NodePath[];
}

export interface SchemaRegistry {
  validate(kind: KindName, body: unknown): SchemaResult;
  schema(kind: KindName): AnySchemaObject;
  /** The kind's schema with every $ref inlined (for walkers such as the differ's canonical form). */
  inlined(kind: KindName): AnySchemaObject;
  /** Paths of the kind's secret fields. */
  secretPatterns(kind: KindName): readonly SecretPattern[];
}

let shared: SchemaRegistry | undefined;

/** The registry for the schemas shipped with Switchboard (compiled once per process). */
export function schemaRegistry(): SchemaRegistry {
  shared ??= createSchemaRegistry(SCHEMA_DIR);
  return shared;
}


/** The ajv instance every schema is compiled with (also for the precompiled validators). */
export function createAjv(options: { standalone?: boolean } = {}): Ajv2020 {
  const { Ajv2020: Ajv } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
  const addFormats = require('ajv-formats') as typeof addFormatsModule.default;
  const ajv = new Ajv({
    strict: true,
    allErrors: true,
    verbose: true,
    discriminator: true,
    allowUnionTypes: true,
    ...(options.standalone ? { code: { source: true, esm: false } } : {}),
  });
  addFormats(ajv, ['uri']);
  // One e-mail rule for config, the runtime and the sync engines (src/model/field-checks.ts).
  ajv.addFormat('email', EMAIL_PATTERN);
  // Annotations only: secrets are located statically from the schemas (secretPatterns).
  ajv.addKeyword({ keyword: 'x-secret', schemaType: 'boolean' });
  // Annotations for the differ (src/plan/canonical.ts): a field the runtime cannot change in
  // place (a change replaces the resource), lists whose order means nothing, lists ordered by a key.
  ajv.addKeyword({ keyword: 'x-immutable', schemaType: 'boolean' });
  ajv.addKeyword({ keyword: 'x-unordered', schemaType: 'boolean' });
  ajv.addKeyword({ keyword: 'x-sort-key', schemaType: 'string' });
  ajv.addKeyword({ keyword: 'tsType', schemaType: 'string' });
  return ajv;
}

/** File names of the schemas that describe resource kinds (and their shared definitions). */
const KIND_SCHEMA_FILES = [...KIND_NAMES.map((k) => `${k}.schema.json`), 'defs.schema.json'].sort();

/** Schema files that describe resource kinds (not the plan or editor schemas). */
export function kindSchemas(dir: string): Map<string, AnySchemaObject> {
  return new Map(KIND_SCHEMA_FILES.map((f) => [f, JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as AnySchemaObject]));
}

/** A digest of the kind schema files' bytes, to tell whether precompiled validators are current. */
export function schemaDigest(dir: string): string {
  const h = createHash('sha256');
  for (const f of KIND_SCHEMA_FILES) h.update(f).update(readFileSync(path.join(dir, f)));
  return h.digest('hex');
}

/** The secret patterns of every kind. */
export function allSecretPatterns(schemas: ReadonlyMap<string, AnySchemaObject>): Record<KindName, SecretPattern[]> {
  return Object.fromEntries(KIND_NAMES.map((k) => [k, secretPatterns(schemas.get(`${k}.schema.json`)!, schemas)])) as Record<KindName, SecretPattern[]>;
}

/** Precompiled validators written by the build (dist/schema/validators.generated.cjs). */
export const PRECOMPILED = fileURLToPath(new URL('./validators.generated.cjs', import.meta.url));

interface Precompiled {
  digest: string;
  secretPatterns: Record<KindName, SecretPattern[]>;
  [kind: string]: unknown;
}

interface Validators {
  readonly validator: (kind: KindName) => ValidateFunction;
  readonly patterns: Record<KindName, readonly SecretPattern[]>;
}

/**
 * Compiling every schema with ajv takes a few hundred milliseconds, more than validating
 * 60,000 resources; so the build precompiles them (ajv standalone code, with the secret
 * paths of each kind) and the CLI loads that code when it matches the schema files on disk,
 * compiling at run time otherwise (tests, development, edited schemas).
 */
function loadValidators(dir: string, schemas: () => ReadonlyMap<string, AnySchemaObject>): Validators {
  if (dir === SCHEMA_DIR && existsSync(PRECOMPILED)) {
    const mod = require(PRECOMPILED) as Precompiled;
    if (mod.digest === schemaDigest(dir)) {
      return {
        patterns: mod.secretPatterns,
        validator: (kind) => {
          const v = mod[kind];
          if (typeof v !== 'function') throw new Error(`precompiled validators lack kind ${kind}`);
          return v as ValidateFunction;
        },
      };
    }
  }
  const ajv = createAjv();
  for (const s of schemas().values()) ajv.addSchema(s);
  return {
    patterns: allSecretPatterns(schemas()),
    validator: (kind) => {
      const v = ajv.getSchema(`${SCHEMA_ID_BASE}${kind}.schema.json`);
      if (!v) throw new Error(`no schema for kind ${kind} in ${dir}`);
      return v;
    },
  };
}

export function createSchemaRegistry(dir: string): SchemaRegistry {
  let parsed: Map<string, AnySchemaObject> | undefined;
  const schemas = () => (parsed ??= kindSchemas(dir));
  const { validator, patterns } = loadValidators(dir, schemas);
  const validators = new Map<KindName, ValidateFunction>();
  const get = (kind: KindName): ValidateFunction => {
    let v = validators.get(kind);
    if (!v) validators.set(kind, (v = validator(kind)));
    return v;
  };
  const inlinedSchemas = new Map<KindName, AnySchemaObject>();
  return {
    schema: (kind) => schemas().get(`${kind}.schema.json`)!,
    inlined(kind) {
      let s = inlinedSchemas.get(kind);
      if (!s) inlinedSchemas.set(kind, (s = inlineRefs(schemas().get(`${kind}.schema.json`)!, schemas())));
      return s;
    },
    secretPatterns: (kind) => patterns[kind],
    validate(kind, body) {
      const v = get(kind);
      const ok = v(body) as boolean;
      const secrets = secretPathsIn(body, patterns[kind]);
      return ok ? { problems: NO_PROBLEMS, secrets } : { problems: explain(kind, v.errors ?? [], new Set(secrets.map((p) => `/${p.join('/')}`))), secrets };
    },
  };
}

/** A path to secret values in a body; `'*'` stands for any list index. */
export type SecretPattern = readonly (string | '*')[];

/** Every path the schema marks `x-secret`, following $ref (local and across files) and combinators. */
export function secretPatterns(schema: AnySchemaObject, schemas: ReadonlyMap<string, AnySchemaObject>): SecretPattern[] {
  const out = new Map<string, SecretPattern>();
  const walk = (node: unknown, file: AnySchemaObject, path: SecretPattern, depth: number) => {
    if (!node || typeof node !== 'object' || depth > 32) return;
    const n = node as AnySchemaObject;
    if (n['x-secret'] === true) out.set(JSON.stringify(path), path);
    if (typeof n.$ref === 'string') {
      const [fileName, pointer] = n.$ref.split('#');
      const target = fileName ? schemas.get(fileName) : file;
      if (target) walk(resolvePointer(target, pointer ?? ''), target, path, depth + 1);
    }
    for (const [k, v] of Object.entries((n.properties as Record<string, unknown> | undefined) ?? {})) walk(v, file, [...path, k], depth + 1);
    if (n.items) walk(n.items, file, [...path, '*'], depth + 1);
    for (const key of ['oneOf', 'anyOf', 'allOf'] as const) for (const b of (n[key] as unknown[] | undefined) ?? []) walk(b, file, path, depth + 1);
    for (const key of ['if', 'then', 'else'] as const) walk(n[key], file, path, depth + 1);
  };
  walk(schema, schema, [], 0);
  return [...out.values()];
}

function resolvePointer(root: AnySchemaObject, pointer: string): unknown {
  let v: unknown = root;
  for (const part of pointer.split('/').filter(Boolean)) v = (v as Record<string, unknown> | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  return v;
}

/**
 * The values at the patterns' paths that `accept` takes, with their concrete paths. Paths are
 * only materialized for the (few) values found; the walk itself shares one stack.
 */
export function valuesAt(body: unknown, patterns: readonly SecretPattern[], accept: (v: unknown) => boolean): { path: NodePath; value: unknown }[] {
  const out: { path: NodePath; value: unknown }[] = [];
  const stack: (string | number)[] = [];
  const walk = (v: unknown, pattern: SecretPattern, i: number) => {
    if (i === pattern.length) {
      if (accept(v)) out.push({ path: [...stack], value: v });
      return;
    }
    if (v === null || typeof v !== 'object') return;
    const step = pattern[i]!;
    if (step === '*') {
      if (!Array.isArray(v)) return;
      for (let j = 0; j < v.length; j++) {
        stack.push(j);
        walk(v[j], pattern, i + 1);
        stack.pop();
      }
    } else if (!Array.isArray(v) && Object.hasOwn(v, step)) {
      stack.push(step);
      walk((v as Record<string, unknown>)[step], pattern, i + 1);
      stack.pop();
    }
  };
  for (const p of patterns) walk(body, p, 0);
  return out;
}

const isString = (v: unknown) => typeof v === 'string';

/** The concrete paths of string values matching the patterns. */
export function secretPathsIn(body: unknown, patterns: readonly SecretPattern[]): NodePath[] {
  if (patterns.length === 0) return NO_PATHS;
  const found = valuesAt(body, patterns, isString);
  return found.length === 0 ? NO_PATHS : found.map((f) => f.path);
}

const NO_PATHS: NodePath[] = [];
const NO_PROBLEMS: SchemaProblem[] = [];

export function pointerToPath(pointer: string): NodePath {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}

function fieldName(kind: string, path: NodePath): string {
  return path.length === 0 ? kind : fieldPath(path);
}

const show = (v: unknown) => (typeof v === 'string' ? `'${v.length > 60 ? `${v.slice(0, 57)}...` : v}'` : JSON.stringify(v));

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'number') return Number.isInteger(v) ? 'an integer' : 'a number';
  return `a ${typeof v}`;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string (quote it if it looks like a number)',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  null: 'null',
};

/** The first sentence of a description, for hints (abbreviations such as "e.g." do not end it). */
export function firstSentence(s: unknown): string {
  if (typeof s !== 'string') return '';
  const end = /(?<!\b(?:e\.g|i\.e|etc|cf|vs))\.(?=\s|$)|\n/.exec(s);
  return (end ? s.slice(0, end.index) : s).trim();
}

/** Turn ajv's errors into one readable problem each, dropping the noise of combinators. */
function explain(kind: string, errors: readonly ErrorObject[], secretPointers: ReadonlySet<string>): SchemaProblem[] {
  const out: SchemaProblem[] = [];
  const seen = new Set<string>();
  const specific = errors.filter((e) => !['oneOf', 'anyOf', 'if', 'then', 'else'].includes(e.keyword));
  const list = specific.length > 0 ? specific : errors;
  for (const e of list) {
    const p = explainOne(kind, e, secretPointers);
    if (!p) continue;
    const k = `${p.code} ${p.path.join('.')} ${p.message}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(p);
  }
  return out;
}

function explainOne(kind: string, e: ErrorObject, secretPointers: ReadonlySet<string>): SchemaProblem | undefined {
  const path = pointerToPath(e.instancePath);
  const where = fieldName(kind, path);
  const secret = secretPointers.has(e.instancePath) || (e.parentSchema as AnySchemaObject | undefined)?.['x-secret'] === true;
  const value = secret ? '(sensitive value)' : show(e.data);
  const parent = e.parentSchema as AnySchemaObject | undefined;
  const hint = firstSentence(parent?.description);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const name = String(params.additionalProperty);
      const known = Object.keys((parent?.properties as object | undefined) ?? {});
      const suggestion = didYouMean(name, known);
      return {
        code: 'unknown-field',
        message: `unknown field '${name}' in ${where}.${suggestion || (known.length ? ` Allowed fields: ${known.join(', ')}.` : '')}`,
        path: [...path, name],
        key: true,
      };
    }
    case 'required': {
      const name = String(params.missingProperty);
      const desc = firstSentence((parent?.properties as Record<string, AnySchemaObject> | undefined)?.[name]?.description);
      return { code: 'missing-field', message: `${where} is missing required field '${name}'${desc ? ` (${desc})` : ''}: add it`, path };
    }
    case 'type': {
      const want = String(params.type)
        .split(',')
        .map((t) => TYPE_WORDS[t] ?? t)
        .join(' or ');
      return { code: 'wrong-type', message: `${where} must be ${want}, found ${typeOf(e.data)}`, path };
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map(String);
      return {
        code: 'invalid-value',
        message: `${where}: ${value} is not allowed; expected one of ${allowed.join(', ')}.${secret ? '' : didYouMean(String(e.data), allowed)}`,
        path,
      };
    }
    case 'const':
      return { code: 'invalid-value', message: `${where} must be ${show(params.allowedValue)}, found ${value}`, path };
    case 'discriminator': {
      const tag = String(params.tag);
      const values = ((parent?.oneOf as AnySchemaObject[] | undefined) ?? [])
        .map((b) => (b.properties as Record<string, AnySchemaObject> | undefined)?.[tag]?.const ?? resolveLocalConst(parent, b, tag))
        .filter((v): v is string => typeof v === 'string');
      if (params.error === 'tag' && (e.data as Record<string, unknown> | null)?.[tag] === undefined) {
        return { code: 'missing-field', message: `${where} is missing required field '${tag}': set it to one of ${values.join(', ')}`, path };
      }
      const got = (e.data as Record<string, unknown> | null)?.[tag];
      return {
        code: 'invalid-value',
        message: `${where}.${tag}: ${show(got)} is not allowed; expected one of ${values.join(', ')}.${didYouMean(String(got), values)}`,
        path: [...path, tag],
      };
    }
    case 'pattern':
      return { code: 'invalid-format', message: `${where}: ${value} does not match the expected form${hint ? ` (${hint})` : ''}: pattern ${String(params.pattern)}`, path };
    case 'format':
      return { code: 'invalid-format', message: `${where}: ${value} is not a valid ${String(params.format)}`, path };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { code: 'out-of-range', message: `${where} must be ${String(params.comparison)} ${String(params.limit)}, found ${value}`, path };
    case 'minLength':
      return { code: 'out-of-range', message: params.limit === 1 ? `${where} must not be empty` : `${where} must be at least ${String(params.limit)} characters long`, path };
    case 'maxLength':
      return { code: 'out-of-range', message: `${where} must be at most ${String(params.limit)} characters long`, path };
    case 'minItems':
      return { code: 'out-of-range', message: `${where} must have at least ${String(params.limit)} item(s)`, path };
    case 'maxItems':
      return { code: 'out-of-range', message: `${where} must have at most ${String(params.limit)} item(s)`, path };
    case 'uniqueItems':
      return { code: 'duplicate-item', message: `${where} lists the same value twice (items ${String(params.j)} and ${String(params.i)}): remove the duplicate`, path: [...path, Number(params.i)] };
    case 'minProperties':
    case 'maxProperties': {
      const keys = Object.keys((parent?.properties as object | undefined) ?? {});
      const exactlyOne = parent?.minProperties === 1 && parent?.maxProperties === 1;
      const found = e.data && typeof e.data === 'object' ? Object.keys(e.data) : [];
      const amount = exactlyOne ? 'exactly one field' : `${e.keyword === 'minProperties' ? 'at least' : 'at most'} ${String(params.limit)} field(s)`;
      return {
        code: 'invalid-value',
        message: `${where} must have ${amount}${keys.length ? `, one of ${keys.join(', ')}` : ''}; found ${found.length ? found.join(', ') : 'none'}`,
        path,
      };
    }
    case 'dependentRequired':
      return { code: 'missing-field', message: `${where}: '${String(params.property)}' requires '${String(params.missingProperty)}'`, path };
    case 'false schema':
      return {
        code: 'unknown-field',
        message: `field '${String(path[path.length - 1])}' is not allowed here: it does not apply with the other settings of ${fieldName(kind, path.slice(0, -1))}${hint ? ` (${hint})` : ''}; remove it or change those settings`,
        path,
        key: true,
      };
    case 'not':
      return { code: 'invalid-value', message: `${where}: ${hint || 'value is not allowed here'}`, path };
    case 'oneOf':
    case 'anyOf':
      return { code: 'invalid-value', message: `${where} matches none of the allowed forms${hint ? ` (${hint})` : ''}`, path };
    default:
      return { code: 'schema', message: `${where} ${e.message ?? 'is invalid'}`, path };
  }
}

function resolveLocalConst(parent: AnySchemaObject | undefined, branch: AnySchemaObject, tag: string): unknown {
  const ref = branch.$ref;
  if (typeof ref !== 'string' || !ref.startsWith('#/$defs/')) return undefined;
  const def = (parent?.$defs as Record<string, AnySchemaObject> | undefined)?.[ref.slice('#/$defs/'.length)];
  return (def?.properties as Record<string, AnySchemaObject> | undefined)?.[tag]?.const;
}
