/**
 * Who changed the live state outside this configuration. Two sources, both from the runtime:
 * a plan's update of a config-managed resource carries `drift` (the resource remembers the
 * last out-of-band writer); a resource deleted or re-created out of band has no such mark,
 * so the audit log entries committed since the watcher last looked (minus its own) name who
 * touched it. Pure.
 */
import type { PlannedChange } from '../plan/types.js';
import type { AuditEntry } from '../runtime/types.js';
import type { DriftReport } from './events.js';
import { changeKey } from './hold.js';

export interface Writer {
  readonly actor: string;
  readonly via: string;
  readonly revision: number;
  readonly at: string;
}

/** The last writer of each resource in audit entries not made by this watcher (`own` revisions). */
export function writersSince(entries: readonly AuditEntry[], own: ReadonlySet<number>): Map<string, Writer> {
  const out = new Map<string, Writer>();
  // Newest first: keep the first (latest) writer of each resource.
  const sorted = [...entries].sort((a, b) => b.revision - a.revision);
  for (const e of sorted) {
    if (own.has(e.revision)) continue;
    for (const c of e.changes) {
      const key = changeKey(c);
      if (!out.has(key)) out.set(key, { actor: e.actor, via: e.via, revision: e.revision, at: e.at });
    }
  }
  return out;
}

/** The plan's changes that undo an out-of-band change, with who made it. */
export function driftOf(changes: readonly PlannedChange[], writers: ReadonlyMap<string, Writer>): Map<PlannedChange, Omit<DriftReport, 'reverted'>> {
  const out = new Map<PlannedChange, Omit<DriftReport, 'reverted'>>();
  for (const c of changes) {
    const w = writers.get(changeKey(c)) ?? (c.action === 'update' ? c.drift : undefined);
    if (w) out.set(c, { kind: c.kind, id: c.id, action: c.action, actor: w.actor, via: w.via, revision: w.revision, ...(w.at ? { at: w.at } : {}) });
  }
  return out;
}
