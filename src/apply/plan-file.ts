/**
 * Checking a saved plan file before anything reads it (`switchboard apply plan.json`).
 *
 * A plan file comes from a CI artefact, a colleague, a download: it may be truncated, hand
 * edited, of another version, or built to hurt. Rendering and applying walk it, so it is
 * checked here first — its depth (without recursion), then against schemas/plan.schema.json,
 * the published description of the format (also what the golden tests check plans against) —
 * and every problem is reported with where it is. Reads the schema file once per process: it
 * lives with apply, at the edge, not in the pure plan/ folder.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describeJsonPath, MAX_JSON_DEPTH, tooDeepAt } from '../runtime/json-depth.js';
import { SCHEMA_DIR } from '../schema/registry.js';
import { PLAN_FORMAT_VERSION } from '../plan/types.js';

/** Problems reported for one file, at most; the rest are counted. */
const MAX_PROBLEMS = 10;

let compiled: ValidateFunction | undefined;

function where(e: ErrorObject): string {
  const path = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, s) => (/^\d+$/.test(s) ? `${acc}[${s}]` : `${acc}.${s}`), 'plan');
  if (e.keyword === 'required') return `${path}.${(e.params as { missingProperty: string }).missingProperty}: is missing`;
  if (e.keyword === 'enum' || e.keyword === 'const') return `${path}: ${e.message ?? 'is not allowed'}, found ${JSON.stringify(e.data)?.slice(0, 40)}`;
  return `${path}: ${e.message ?? 'is not valid'}`;
}

/**
 * The problems of a parsed plan file, each `where: what` (empty when it is a plan this version
 * can render and apply). A wrong format version is reported alone: the rest would cascade.
 */
export function planFileProblems(value: unknown): string[] {
  const deep = tooDeepAt(value, MAX_JSON_DEPTH);
  if (deep) return [`${describeJsonPath(deep)}: nested more than ${MAX_JSON_DEPTH} levels deep; no plan is`];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return ['the file holds a JSON value that is not an object'];
  const version = (value as { formatVersion?: unknown }).formatVersion;
  if (version !== PLAN_FORMAT_VERSION) return [`formatVersion is ${JSON.stringify(version) ?? 'missing'}, this switchboard reads plans of format version ${PLAN_FORMAT_VERSION}`];
  if (!compiled) {
    // Loaded on use (only `apply plan.json` needs it); not strict, like every reader of the
    // published schema (its `if`/`then` parts name properties declared beside them).
    const require = createRequire(import.meta.url);
    const { Ajv2020: Ajv } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
    const addFormats = require('ajv-formats') as (ajv: object) => void;
    const ajv = new Ajv({ strict: false, allErrors: true, verbose: true });
    addFormats(ajv);
    compiled = ajv.compile(JSON.parse(readFileSync(path.join(SCHEMA_DIR, 'plan.schema.json'), 'utf8')) as object);
  }
  if (compiled(value)) return [];
  // `if`/`then` failures repeat what their inner errors say.
  const problems = [...new Set((compiled.errors ?? []).filter((e) => e.keyword !== 'if').map(where))];
  return problems.length > MAX_PROBLEMS ? [...problems.slice(0, MAX_PROBLEMS), `… and ${problems.length - MAX_PROBLEMS} more`] : problems;
}
