/**
 * Safety is a function of the plan: deletions beyond a share of what exists, deletions of
 * companies, domains and PBX links, and any deletion or replacement of a protected resource
 * are refused, with a message that says how to proceed. Pure.
 */
import { KIND_NAMES, type KindName } from '../model/kinds.js';
import type { Plan } from './types.js';

/** Kinds whose deletion always needs --allow-destroy: removing one cuts a whole site off. */
export const ALWAYS_CONFIRM: readonly KindName[] = ['Company', 'Domain', 'PbxLink'];

export interface SafetyOptions {
  /** Kinds the user allows to be deleted beyond the thresholds (`--allow-destroy=User,Group`). */
  readonly allowDestroy: ReadonlySet<KindName>;
  /** Share of a kind that may be deleted without --allow-destroy (default 0.3). */
  readonly maxDeleteShare?: number;
  /** The share applies once at least this many exist (default 10). */
  readonly minExisting?: number;
}

export interface SafetyProblem {
  readonly code: 'mass-delete' | 'destroy-kind' | 'protected';
  readonly kind: KindName;
  readonly message: string;
}

/**
 * Parse `--allow-destroy` values: kind names in any case, singular or plural (`users`,
 * `User`, `pbxlinks`), comma-separated; unknown names are returned as errors.
 */
export function parseAllowDestroy(values: readonly string[]): { kinds: Set<KindName>; unknown: string[] } {
  const kinds = new Set<KindName>();
  const unknown: string[] = [];
  for (const v of values.flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean)) {
    const lower = v.toLowerCase();
    const k = KIND_NAMES.find((n) => [n.toLowerCase(), `${n.toLowerCase()}s`, `${n.toLowerCase()}es`].includes(lower) || (lower.endsWith('ies') && n.toLowerCase() === `${lower.slice(0, -3)}y`));
    if (k) kinds.add(k);
    else unknown.push(v);
  }
  return { kinds, unknown };
}

const plural = (kind: KindName) => (kind.endsWith('y') ? `${kind.slice(0, -1).toLowerCase()}ies` : `${kind.toLowerCase()}s`);

/** Everything unsafe in the plan, given how many of each kind exist live. */
export function checkSafety(plan: Pick<Plan, 'changes' | 'liveCounts'>, options: SafetyOptions): SafetyProblem[] {
  const share = options.maxDeleteShare ?? 0.3;
  const min = options.minExisting ?? 10;
  const counts = new Map(Object.entries(plan.liveCounts) as [KindName, number][]);
  const problems: SafetyProblem[] = [];
  const deletes = new Map<KindName, number>();
  for (const c of plan.changes) {
    if (c.action === 'delete' || c.action === 'replace') {
      if (c.before.protect === true) {
        problems.push({
          code: 'protected',
          kind: c.kind,
          message: `${c.kind} '${c.id}' is protected (protect: true) and would be ${c.action === 'delete' ? 'deleted' : 'replaced'}: first apply a configuration that sets protect: false on it, then apply this change`,
        });
      }
    }
    if (c.action === 'delete') deletes.set(c.kind, (deletes.get(c.kind) ?? 0) + 1);
  }
  for (const [kind, n] of deletes) {
    if (options.allowDestroy.has(kind)) continue;
    const existing = counts.get(kind) ?? n;
    if (ALWAYS_CONFIRM.includes(kind)) {
      problems.push({ code: 'destroy-kind', kind, message: `the plan deletes ${n} ${n === 1 ? kind : plural(kind)}: deleting a ${kind} always needs confirmation; re-run with --allow-destroy=${kind}` });
    } else if (existing >= min && n / existing > share) {
      problems.push({
        code: 'mass-delete',
        kind,
        message: `the plan deletes ${n} of ${existing} ${plural(kind)} (${Math.round((100 * n) / existing)}%), over the ${Math.round(share * 100)}% threshold: check the configuration, then re-run with --allow-destroy=${kind}`,
      });
    }
  }
  return problems;
}

export function countByKind(resources: readonly { readonly kind: KindName }[]): Partial<Record<KindName, number>> {
  const m: Partial<Record<KindName, number>> = {};
  for (const r of resources) m[r.kind] = (m[r.kind] ?? 0) + 1;
  return m;
}
