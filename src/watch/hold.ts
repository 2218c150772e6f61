/**
 * Risk grading for an unattended reconcile loop: which changes of a plan `watch` applies on
 * its own and which it holds for a person. Pure.
 *
 * Design note — why every deletion is held unless its kind is allowed. `apply` lets small
 * deletions through (checkSafety refuses only mass deletions and companies, domains and
 * links) because a person has just read the plan. `watch` has no reader, and a working tree
 * passes through transient states: a resource cut from one file and not yet pasted into
 * another, a file renamed in two steps, an editor's backup. A create or an update from such a
 * state is undone by the next save; a deletion is not (a deleted user loses its supervision,
 * its API-side state, its history). So in watch a deletion applies only when its kind is
 * named in --allow-destroy (then without the share threshold, as `apply --allow-destroy`
 * does); a deletion or replacement of a `protect: true` resource never applies; everything
 * else is held and reported as pending until allowed or reverted in the files.
 */
import type { KindName } from '../model/kinds.js';
import type { Action, Plan, PlannedChange, PlanSummary } from '../plan/types.js';
import type { HeldChange } from './events.js';

export interface HoldOptions {
  /** Kinds whose deletions apply automatically. */
  readonly allowDestroy: ReadonlySet<KindName>;
  /** `kind\0id` of resources changed out of band whose revert is held (--no-self-heal). */
  readonly outOfBand?: ReadonlySet<string>;
}

export const changeKey = (c: { readonly kind: KindName; readonly id: string }) => `${c.kind}\u0000${c.id}`;

/** The plan without the held changes (summary recomputed), and the held changes. */
export function holdChanges(plan: Plan, options: HoldOptions): { plan: Plan; held: HeldChange[] } {
  const held = new Map<PlannedChange, HeldChange>();
  for (const c of plan.changes) {
    if ((c.action === 'delete' || c.action === 'replace') && c.before.protect === true) {
      held.set(c, {
        action: c.action,
        kind: c.kind,
        id: c.id,
        reason: 'protected',
        message: `it is protected (protect: true): set protect: false and apply it with switchboard apply first, or restore it in the files`,
      });
    } else if (c.action === 'delete' && !options.allowDestroy.has(c.kind)) {
      held.set(c, {
        action: c.action,
        kind: c.kind,
        id: c.id,
        reason: 'destroy-not-allowed',
        message: `watch deletes a ${c.kind} only with --allow-destroy=${c.kind}: restart it so, run switchboard apply, or restore it in the files`,
      });
    } else if (options.outOfBand?.has(changeKey(c))) {
      held.set(c, { action: c.action, kind: c.kind, id: c.id, reason: 'out-of-band', message: 'changed outside the configuration and --no-self-heal is on: switchboard apply reverts it' });
    }
  }
  // A deletion whose id is above a held one (a domain above its users, a company above its
  // domains) would remove what is held, or be refused by the runtime: hold it too.
  const heldIds = [...held.keys()].filter((c) => c.action === 'delete').map((c) => c.id);
  if (heldIds.length > 0) {
    for (const c of plan.changes) {
      if (c.action !== 'delete' || held.has(c)) continue;
      const below = heldIds.find((id) => id.startsWith(`${c.id}/`));
      if (below !== undefined) held.set(c, { action: c.action, kind: c.kind, id: c.id, reason: 'dependent', message: `'${below}' under it is held, so it is held too` });
    }
  }
  if (held.size === 0) return { plan, held: [] };
  const changes = plan.changes.filter((c) => !held.has(c));
  return { plan: { ...plan, changes, summary: summarize(changes, plan.summary.unmanaged) }, held: plan.changes.filter((c) => held.has(c)).map((c) => held.get(c)!) };
}

function summarize(changes: readonly PlannedChange[], unmanaged: number): PlanSummary {
  const counts: Record<Action, number> = { create: 0, update: 0, delete: 0, replace: 0 };
  const byKind: Partial<Record<KindName, Partial<Record<Action, number>>>> = {};
  for (const c of changes) {
    counts[c.action]++;
    const k = (byKind[c.kind] ??= {});
    k[c.action] = (k[c.action] ?? 0) + 1;
  }
  return { ...counts, unmanaged, byKind };
}
