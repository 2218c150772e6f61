/**
 * The differ: desired (canonical) against live (canonical) → planned changes. Pure: no I/O,
 * never mutates its inputs, deterministic for the same input.
 *
 * Only what config manages can be updated, replaced or deleted. A live resource managed by
 * anything else (an import, a directory sync, an administrator through the API) is listed as
 * unmanaged and never touched — even when the configuration declares the same id (a warning
 * then says so).
 */
import { diffArrays } from 'diff';
import { KIND_NAMES, type KindName } from '../model/kinds.js';
import type { LiveResource } from '../runtime/types.js';
import { immutableChanges } from './canonical.js';
import type { Body, Drift, FieldChange, PlannedChange, PlanWarning, UnmanagedResource } from './types.js';

export interface DesiredResource {
  readonly kind: KindName;
  readonly id: string;
  /** Canonical body, secrets as `{ $secret, ref? }`. */
  readonly body: Body;
}

export interface CanonicalLive {
  readonly resource: LiveResource;
  /** Body as stored, secrets as `{ $secret }`. */
  readonly body: Body;
}

export interface DiffOptions {
  readonly targets?: readonly string[];
  /**
   * The canonical form of a live body. A live body equal to the desired one as it is needs
   * none (the common case: the runtime holds what config applied, already canonical), so it
   * is computed only for live resources that differ or are deleted. Identity when live
   * bodies are canonical already.
   */
  readonly canonical?: (kind: KindName, body: Body) => Body;
}

export interface DiffResult {
  /** Changes without impact (added by the planner), in apply order. */
  readonly changes: readonly DiffChange[];
  readonly unmanaged: readonly UnmanagedResource[];
  readonly warnings: readonly PlanWarning[];
}

type WithoutImpact<T> = T extends unknown ? Omit<T, 'impact'> : never;
export type DiffChange = WithoutImpact<PlannedChange>;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isSecret = (v: unknown): v is { $secret: string } => isObject(v) && typeof v.$secret === 'string';

/** Equality of canonical values; secrets compare by fingerprint only (a `ref` is not part of the value). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (isSecret(a) || isSecret(b)) return isSecret(a) && isSecret(b) && a.$secret === b.$secret;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameValue(a[i], b[i])) return false;
    return true;
  }
  if (isObject(a) && isObject(b)) {
    // Hot path (every resource of a no-op plan): no intermediate key sets.
    let na = 0;
    for (const k in a) {
      if (a[k] === undefined) continue;
      na++;
      if (!sameValue(a[k], b[k])) return false;
    }
    let nb = 0;
    for (const k in b) if (b[k] !== undefined) nb++;
    return na === nb;
  }
  return false;
}

/** Edits beyond which two lists are not aligned but paired by position (bounds the work). */
export const MAX_ALIGNED_EDITS = 256;

/** Field-level differences between two canonical bodies. */
export function fieldChanges(before: unknown, after: unknown, path = ''): FieldChange[] {
  if (sameValue(before, after)) return [];
  if (isSecret(before) || isSecret(after)) return [{ path, sensitive: true }];
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => fieldChanges(before[k], after[k], path ? `${path}.${k}` : k));
  }
  // Lists of mappings (devices, rules, overrides): items are aligned (longest common
  // subsequence), so an insertion shows as one added item, not as every later item changed;
  // a removed and an added item at the same place are one modified item, shown field by
  // field. Lists of scalars (members) are shown whole, before and after.
  if (Array.isArray(before) && Array.isArray(after) && [...before, ...after].some((x) => isObject(x))) {
    const out: FieldChange[] = [];
    // Alignment costs (length × edits): past MAX_ALIGNED_EDITS the lists are paired by position
    // instead (still field by field), so a 20,000-rule list changed throughout plans in
    // milliseconds, not minutes.
    const parts = diffArrays(before, after, { comparator: (a, b) => sameValue(a, b), maxEditLength: MAX_ALIGNED_EDITS }) ?? [
      { removed: true, added: false, count: before.length, value: before },
      { removed: false, added: true, count: after.length, value: after },
    ];
    let i = 0; // index in `before`
    let j = 0; // index in `after`
    for (let k = 0; k < parts.length; k++) {
      const part = parts[k]!;
      const next = parts[k + 1];
      if (part.removed && next?.added) {
        const n = Math.min(part.value.length, next.value.length);
        for (let m = 0; m < n; m++) out.push(...fieldChanges(part.value[m], next.value[m], `${path}[${j + m}]`));
        for (let m = n; m < part.value.length; m++) out.push({ path: `${path}[${i + m}]`, before: part.value[m] });
        for (let m = n; m < next.value.length; m++) out.push({ path: `${path}[${j + m}]`, after: next.value[m] });
        i += part.value.length;
        j += next.value.length;
        k++;
      } else if (part.removed) {
        part.value.forEach((v, m) => out.push({ path: `${path}[${i + m}]`, before: v }));
        i += part.value.length;
      } else if (part.added) {
        part.value.forEach((v, m) => out.push({ path: `${path}[${j + m}]`, after: v }));
        j += part.value.length;
      } else {
        i += part.value.length;
        j += part.value.length;
      }
    }
    return out;
  }
  return [{ path, ...(before !== undefined ? { before } : {}), ...(after !== undefined ? { after } : {}) }];
}

const ORDER = new Map(KIND_NAMES.map((k, i) => [k, i]));
const byKindThenId = (a: { kind: KindName; id: string }, b: { kind: KindName; id: string }) => ORDER.get(a.kind)! - ORDER.get(b.kind)! || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Does `id` (of `kind`) fall under one of the targets (`acme/paris`, `User/acme/paris/jdoe`, `User`)? */
export function matchesTarget(kind: KindName, id: string, targets: readonly string[]): boolean {
  return targets.some((t) => {
    const slash = t.indexOf('/');
    const head = slash < 0 ? t : t.slice(0, slash);
    if (head === kind) {
      const rest = slash < 0 ? '' : t.slice(slash + 1);
      return rest === '' || id === rest || id.startsWith(`${rest}/`);
    }
    return id === t || id.startsWith(`${t}/`);
  });
}

function driftOf(r: LiveResource): Drift | undefined {
  return r.drifted ? { actor: r.updatedBy, via: r.updatedVia, revision: r.revision, at: r.updatedAt } : undefined;
}

export function diff(desired: readonly DesiredResource[], live: readonly CanonicalLive[], options: DiffOptions = {}): DiffResult {
  const { targets } = options;
  const canonical = options.canonical ?? ((_k: KindName, b: Body) => b);
  const liveById = new Map<string, CanonicalLive>();
  for (const l of live) liveById.set(`${l.resource.kind}\u0000${l.resource.id}`, l);
  const desiredKeys = new Set<string>();
  const forward: DiffChange[] = [];
  const deletes: DiffChange[] = [];
  const unmanaged: UnmanagedResource[] = [];
  const warnings: PlanWarning[] = [];
  const inScope = (kind: KindName, id: string) => !targets || targets.length === 0 || matchesTarget(kind, id, targets);

  // Resources are visited in any order and only the (few) changes sorted: sorting the whole
  // state on every plan cost more than diffing it.
  for (const d of desired) {
    const key = `${d.kind}\u0000${d.id}`;
    desiredKeys.add(key);
    const l = liveById.get(key);
    if (!inScope(d.kind, d.id)) continue;
    if (!l) {
      forward.push({ action: 'create', kind: d.kind, id: d.id, after: d.body });
      continue;
    }
    if (l.resource.manager !== 'config') {
      unmanaged.push({ kind: d.kind, id: d.id, manager: l.resource.manager, declared: true });
      warnings.push({
        code: 'declared-but-unmanaged',
        message: `${d.kind} '${d.id}' is declared in the configuration but managed by ${l.resource.manager}: config does not change it; remove it from the configuration or from ${l.resource.manager}`,
        kind: d.kind,
        id: d.id,
      });
      continue;
    }
    if (sameValue(l.body, d.body)) continue;
    const before = canonical(d.kind, l.body);
    const after = d.body;
    if (sameValue(before, after)) continue;
    const fields = fieldChanges(before, after);
    const immutable = immutableChanges(d.kind, before, after);
    if (immutable.length > 0) {
      forward.push({
        action: 'replace',
        kind: d.kind,
        id: d.id,
        before,
        after,
        fields,
        reason: `${immutable.join(', ')} cannot change in place: the ${d.kind} is deleted and created again`,
      });
    } else {
      const drift = driftOf(l.resource);
      forward.push({ action: 'update', kind: d.kind, id: d.id, before, after, fields, ...(drift ? { drift } : {}) });
    }
  }
  for (const l of live) {
    const { kind, id, manager } = l.resource;
    if (desiredKeys.has(`${kind}\u0000${id}`)) continue;
    if (manager !== 'config') {
      unmanaged.push({ kind, id, manager });
      continue;
    }
    if (inScope(kind, id)) deletes.push({ action: 'delete', kind, id, before: canonical(kind, l.body) });
  }
  forward.sort(byKindThenId);
  deletes.sort(byKindThenId).reverse(); // dependents before what they depend on
  unmanaged.sort(byKindThenId);
  return { changes: [...forward, ...deletes], unmanaged, warnings };
}
