import type { NodePath, SourceRef } from '../diagnostics.js';
import type { KindName } from './kinds.js';

/**
 * A validated resource of the desired state: its kind, stable id, fields (secret references
 * resolved to their values) and where it was declared.
 *
 * `body` holds secret values in clear: never print it, log it or put it in a plan; use
 * `secrets` (paths of the secret fields) to redact or fingerprint them.
 */
export interface Resource {
  readonly kind: KindName;
  readonly id: string;
  readonly body: Readonly<Record<string, unknown>>;
  readonly secrets: readonly NodePath[];
  /** The reference each secret was written with (`${env:NAME}`), by field path (`devices[0].password`); absent for literals. */
  readonly secretRefs?: Readonly<Record<string, string>>;
  readonly source: SourceRef;
  readonly inheritedScope?: 'company' | 'domain';
}

/** The whole desired state: every resource, addressable by kind and id. */
export interface DesiredState {
  readonly resources: readonly Resource[];
  readonly byKind: ReadonlyMap<KindName, ReadonlyMap<string, Resource>>;
}

export function get(state: DesiredState, kind: KindName, id: string): Resource | undefined {
  return state.byKind.get(kind)?.get(id);
}

export function all(state: DesiredState, kind: KindName): readonly Resource[] {
  const m = state.byKind.get(kind);
  return m ? [...m.values()] : [];
}

/** Read a value at a path inside a body. */
export function getPath(body: unknown, path: NodePath): unknown {
  let v = body;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[p];
  }
  return v;
}
