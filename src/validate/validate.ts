/**
 * Validation in layers — YAML syntax, document envelope, schema, secrets, then rules across
 * resources — collecting every problem in one run. Produces the desired state made of the
 * resources that passed their schema, and located diagnostics.
 */
import { error, fieldPath, hasErrors, warning, type Diagnostic, type NodePath, type PendingDiagnostic } from '../diagnostics.js';
import { fieldRef, type SourceResource } from '../config/parse.js';
import { locate } from '../config/positions.js';
import { NO_SECRETS, parseSecretReference, type SecretSource } from '../config/secrets.js';
import { loadTree, type LoadedTree } from '../config/tree.js';
import { kindInfo, KIND_NAMES, type KindName } from '../model/kinds.js';
import { getPath, type DesiredState, type Resource } from '../model/resource.js';
import { schemaRegistry, type SchemaRegistry, type SchemaResult } from '../schema/registry.js';
import { checkRules } from './rules.js';

export interface ValidateOptions {
  readonly secrets: SecretSource;
  readonly registry?: SchemaRegistry;
  /**
   * Schema results kept between validations, keyed by parsed resource (object identity):
   * `switchboard watch` re-uses the parsed resources of unchanged files, so only changed ones
   * are checked against their schema again. Use one cache per registry; it relies on parsed
   * resources never being mutated. Rules across resources always run on the whole state.
   */
  readonly schemaCache?: WeakMap<SourceResource, SchemaResult>;
}

export interface ValidationResult {
  readonly state: DesiredState;
  readonly diagnostics: readonly Diagnostic[];
  /** No error (warnings allowed). */
  readonly ok: boolean;
  /** Milliseconds per phase (load, schema, rules, locate), for `--timings` and benchmarks. */
  readonly timings: Readonly<Record<string, number>>;
}

/** Validate an already-loaded tree. */
export function validateTree(tree: LoadedTree, options: ValidateOptions): ValidationResult {
  const pending: PendingDiagnostic[] = [...tree.diagnostics];
  const t0 = performance.now();
  const state = buildState(tree.resources, options, pending);
  const t1 = performance.now();
  checkRules(state.state, state.known, pending);
  const t2 = performance.now();
  const diagnostics = locate(pending, tree.texts);
  const t3 = performance.now();
  return { state: state.state, diagnostics, ok: !hasErrors(pending), timings: { schema: t1 - t0, rules: t2 - t1, locate: t3 - t2 } };
}

/** Load and validate the configuration under `root` (a directory or a single file). */
export function validateConfig(root: string, options: ValidateOptions & { cwd?: string }): ValidationResult & { tree: LoadedTree } {
  const t0 = performance.now();
  const tree = loadTree(root, { cwd: options.cwd });
  const load = performance.now() - t0;
  const result = validateTree(tree, options);
  return { ...result, timings: { load, ...result.timings }, tree };
}

/** Ids of every resource whose identity could be read, valid or not: references to them are not "unresolved". */
export type KnownIds = ReadonlyMap<KindName, ReadonlyMap<string, unknown>>;

function buildState(sources: readonly SourceResource[], options: ValidateOptions, pending: PendingDiagnostic[]): { state: DesiredState; known: KnownIds } {
  const registry = options.registry ?? schemaRegistry();
  const byKind = new Map<KindName, Map<string, Resource>>(KIND_NAMES.map((k) => [k, new Map()]));
  // Every resource whose identity could be read, valid or not: the first declaration of each id.
  const seen = new Map<KindName, Map<string, SourceResource>>(KIND_NAMES.map((k) => [k, new Map()]));
  const resources: Resource[] = [];
  for (const src of sources) {
    let schema = options.schemaCache?.get(src);
    if (!schema) {
      schema = registry.validate(src.kind, src.body);
      options.schemaCache?.set(src, schema);
    }
    const { problems, secrets } = schema;
    for (const p of problems) pending.push({ severity: 'error', code: p.code, message: p.message, at: fieldRef(src, p.path), key: p.key });
    const info = kindInfo(src.kind);
    const id = info.id(src.body);
    if (id === undefined) continue;
    const seenOfKind = seen.get(src.kind)!;
    const first = seenOfKind.get(id);
    if (first) {
      pending.push({
        ...error('duplicate-id', `${src.kind} '${id}' is declared twice (identified by ${info.identity.join(' + ')}): remove or rename one`, src.source),
        related: { label: 'first declared', at: first.source },
      });
      continue;
    }
    seenOfKind.set(id, src);
    if (problems.length > 0) continue;
    // A resource whose secret cannot be resolved stays in the state (with the reference
    // unresolved) so that it still counts for references, extensions and licences.
    const refs: Record<string, string> = {};
    const body = secrets.length === 0 ? (src.body as Record<string, unknown>) : resolveSecrets(src, secrets, options.secrets, pending, refs);
    const r: Resource = {
      kind: src.kind,
      id,
      body,
      secrets,
      source: src.source,
      ...(secrets.length > 0 ? { secretRefs: refs } : {}),
      ...(src.inheritedScope ? { inheritedScope: src.inheritedScope } : {}),
    };
    byKind.get(src.kind)!.set(id, r);
    resources.push(r);
  }
  const known: KnownIds = seen;
  return { state: { resources, byKind }, known };
}

/** A copy of the body with secret references replaced by their values (missing ones reported and left as written). */
function resolveSecrets(src: SourceResource, paths: readonly NodePath[], source: SecretSource, pending: PendingDiagnostic[], refs: Record<string, string>): Record<string, unknown> {
  if (paths.length === 0) return src.body as Record<string, unknown>;
  const body = structuredClone(src.body) as Record<string, unknown>;
  for (const path of paths) {
    const value = getPath(body, path);
    if (typeof value !== 'string' || value === '') continue;
    const at = fieldRef(src, path);
    const ref = parseSecretReference(value);
    if (ref === undefined) {
      pending.push(warning('secret-literal', `'${path.join('.')}' holds a literal secret that will be committed with the configuration: use \${env:NAME} or \${file:relative/path}`, at));
      continue;
    }
    let resolved: string | undefined;
    if (ref.source !== 'invalid') refs[fieldPath(path)] = source.reference?.(src.source.file, value) ?? value;
    if (ref.source === 'invalid') {
      pending.push(error('secret-reference', `invalid secret reference in '${path.join('.')}': ${ref.reason}`, at));
      continue;
    } else if (ref.source === 'env') {
      resolved = source.env(ref.name);
      if (resolved === undefined) {
        pending.push(error('secret-env-missing', `environment variable ${ref.name} is not set (needed by '${path.join('.')}'): export it before running switchboard`, at));
        continue;
      }
    } else {
      const read = source.file(src.source.file, ref.path);
      if (!read.ok) {
        pending.push(error(read.code, `${read.message} (needed by '${path.join('.')}')`, at));
        continue;
      }
      resolved = read.value;
    }
    setPath(body, path, resolved);
  }
  return body;
}

function setPath(body: Record<string, unknown>, path: NodePath, value: unknown): void {
  let v: Record<string | number, unknown> = body;
  for (let i = 0; i < path.length - 1; i++) v = v[path[i]!] as Record<string | number, unknown>;
  v[path[path.length - 1]!] = value;
}

/** A problem with a resource that is not in a file (the runtime's live state). */
export interface ResourceProblem {
  readonly severity: 'error' | 'warning';
  readonly code: string;
  readonly message: string;
  readonly kind?: KindName;
  readonly id?: string;
  /** Path of the offending field inside the resource body, e.g. `devices.0.number`. */
  readonly path?: string;
}

/**
 * Check resources that do not come from files — the runtime re-checks every change set with
 * this, never trusting its client: the same schemas and rules as `validate`, on bodies whose
 * secrets are already values. Problems name the resource (kind, id) and the field path.
 */
export function checkResources(resources: readonly { kind: KindName; body: Readonly<Record<string, unknown>> }[], registry?: SchemaRegistry): ResourceProblem[] {
  const sources: SourceResource[] = resources.map((r, i) => ({ kind: r.kind, body: r.body, source: { file: `#${i}`, doc: 0, path: [] } }));
  const pending: PendingDiagnostic[] = [];
  const built = buildState(sources, { secrets: NO_SECRETS, ...(registry ? { registry } : {}) }, pending);
  checkRules(built.state, built.known, pending);
  return pending
    .filter((d) => d.code !== 'secret-literal') // live secrets are values by nature
    .map((d) => {
      const index = d.at ? Number(d.at.file.slice(1)) : NaN;
      const r = Number.isInteger(index) ? resources[index] : undefined;
      const id = r ? kindInfo(r.kind).id(r.body) : undefined;
      const related = d.related ? Number(d.related.at.file.slice(1)) : NaN;
      const relatedResource = Number.isInteger(related) ? resources[related] : undefined;
      const relatedId = relatedResource ? kindInfo(relatedResource.kind).id(relatedResource.body) : undefined;
      return {
        severity: d.severity,
        code: d.code,
        message: relatedResource ? `${d.message} (${d.related!.label}: ${relatedResource.kind} ${relatedId ?? '?'})` : d.message,
        ...(r ? { kind: r.kind } : {}),
        ...(id ? { id } : {}),
        ...(d.at && d.at.path.length > 0 ? { path: d.at.path.join('.') } : {}),
      };
    });
}
