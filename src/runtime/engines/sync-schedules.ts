/**
 * `sync-schedules`: the synchronization schedule of every user import and directory.
 *
 * The runs themselves are the `user-import` and `directory-sync` engines'; this engine knows when each
 * one runs (its status lists each import and directory with its schedule and next run) and
 * what a change means for it: a new import or directory runs a first synchronization, and one
 * whose source, connection (including its filter and credentials), mapping or fields change
 * must run again (`sync-rerun`). A directory of type `disabled` never synchronizes; one whose
 * serverType this runtime does not read (src/sync/directory-run.ts) is said so
 * (`sync-unsupported`), never promised a run.
 */
import type { KindName } from '../../model/kinds.js';
import type { CommittedEvent } from '../core.js';
import type { Engine, EngineContext, EngineReport } from '../engines.js';
import type { Change, ImpactFact, LiveResource, LiveState } from '../types.js';
import { synchronizes, SYNCHRONIZED_SERVER_TYPES } from '../../sync/directory-run.js';
import { importsSource, IMPORTED_SOURCES } from '../../sync/run.js';
import { comparable, companyOfDomain, sameJson } from './util.js';

type Body = Readonly<Record<string, unknown>>;
const NAME = 'sync-schedules';

/** Fields whose change makes the sync run again, per kind. */
const RERUN_FIELDS: Readonly<Partial<Record<KindName, readonly string[]>>> = {
  UserImport: ['source', 'syncMode', 'connection', 'mapping', 'deviceDefaults', 'group', 'adaptNumbersToDialPlan'],
  Directory: ['serverType', 'connection', 'fields', 'redList', 'privateLabels', 'priority', 'mergeContacts'],
};

export interface SyncStatus {
  readonly kind: 'UserImport' | 'Directory';
  readonly id: string;
  readonly company: string;
  readonly mode: 'manual' | 'daily' | 'interval' | 'disabled';
  readonly at?: string;
  readonly every?: string;
  readonly atFrom?: string;
  /** ISO time of the next scheduled run; absent for manual, disabled, and daily without `at` in a company that sets no timeSynchronizationDirectories. */
  readonly nextRun?: string;
}

export interface Schedule {
  readonly mode: SyncStatus['mode'];
  readonly at?: string;
  readonly every?: string;
  /** Set when `at` comes from the system parameter (a daily schedule without its own `at`). */
  readonly atFrom?: typeof SYNC_TIME_PARAMETER;
}

/** The system parameter giving the time of daily synchronizations that set none (manual §8.2.1). */
export const SYNC_TIME_PARAMETER = 'timeSynchronizationDirectories';
const HHMM = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;

/**
 * The time of day of a daily synchronization without `at` in domain `domainId`: the company's
 * System parameter timeSynchronizationDirectories, the domain's override first, else its
 * default value. Undefined when the company sets none (the server's shipped default is unknown).
 */
export function synchronizationTime(parameters: readonly LiveResource[], domainId: string): string | undefined {
  const slash = domainId.indexOf('/');
  const [company, domain] = slash < 0 ? [domainId, ''] : [domainId.slice(0, slash), domainId.slice(slash + 1)];
  const p = parameters.find((r) => r.kind === 'ApplicationParameter' && r.id === `${company}/System/${SYNC_TIME_PARAMETER}`);
  if (!p) return undefined;
  const overrides = Array.isArray(p.body.overrides) ? (p.body.overrides as Body[]) : [];
  const value = overrides.find((o) => o && o.domain === domain)?.value ?? p.body.default;
  return typeof value === 'string' && HHMM.test(value) ? value : undefined;
}

/**
 * The schedule of an import (`schedule`) or directory (`sync`); a daily one without `at` takes
 * it from `parameters` ({@link synchronizationTime}).
 */
export function scheduleOf(r: LiveResource, parameters: readonly LiveResource[] = []): Schedule {
  if (r.kind === 'Directory' && r.body.type === 'disabled') return { mode: 'disabled' };
  const s = (r.kind === 'UserImport' ? r.body.schedule : r.body.sync) as Body | undefined;
  const mode = s && (s.mode === 'daily' || s.mode === 'interval') ? s.mode : 'manual';
  if (mode === 'daily' && typeof s?.at !== 'string') {
    const at = typeof r.body.domain === 'string' ? synchronizationTime(parameters, r.body.domain) : undefined;
    return at !== undefined ? { mode, at, atFrom: SYNC_TIME_PARAMETER } : { mode };
  }
  return { mode, ...(typeof s?.at === 'string' ? { at: s.at } : {}), ...(typeof s?.every === 'string' ? { every: s.every } : {}) };
}

/** Milliseconds of an `every` period (`10m`, `2h`), or undefined. */
export function periodMs(every: string | undefined): number | undefined {
  const m = every ? /^([1-9][0-9]*)(m|h)$/.exec(every) : null;
  return m ? Number(m[1]) * (m[2] === 'h' ? 3_600_000 : 60_000) : undefined;
}

/** The next run after `now`: intervals count from `anchor` (when the engine learned the schedule); daily runs at `at`, local time. */
export function nextRun(schedule: { mode: string; at?: string; every?: string }, anchor: Date, now: Date): Date | undefined {
  if (schedule.mode === 'interval') {
    const p = periodMs(schedule.every);
    if (!p) return undefined;
    const k = Math.floor((now.getTime() - anchor.getTime()) / p) + 1;
    return new Date(anchor.getTime() + Math.max(1, k) * p);
  }
  if (schedule.mode === 'daily' && schedule.at) {
    const m = /^([01][0-9]|2[0-3]):([0-5][0-9])$/.exec(schedule.at);
    if (!m) return undefined;
    const next = new Date(now);
    next.setHours(Number(m[1]), Number(m[2]), 0, 0);
    if (next.getTime() <= now.getTime()) next.setDate(next.getDate() + 1);
    return next;
  }
  return undefined;
}

export class SyncSchedulesEngine implements Engine {
  readonly name = NAME;
  readonly kinds: readonly KindName[] = ['UserImport', 'Directory', 'ApplicationParameter'];
  #ctx: EngineContext | undefined;
  #syncs = new Map<string, { resource: LiveResource; schedule: Schedule; anchor: Date }>();

  async start(ctx: EngineContext, live: readonly LiveResource[]): Promise<void> {
    this.#ctx = ctx;
    this.#syncs = new Map();
    this.#load(live);
  }

  async onChange(_event: CommittedEvent, live: readonly LiveResource[]): Promise<void> {
    this.#load(live);
  }

  #load(live: readonly LiveResource[]): void {
    const now = this.#ctx?.now() ?? new Date();
    const parameters = live.filter((r) => r.kind === 'ApplicationParameter');
    const next = new Map<string, { resource: LiveResource; schedule: Schedule; anchor: Date }>();
    for (const r of live) {
      if (r.kind === 'ApplicationParameter') continue;
      const key = `${r.kind}\0${r.id}`;
      const old = this.#syncs.get(key);
      const schedule = scheduleOf(r, parameters);
      // A schedule keeps its anchor until it changes.
      const anchor = old && sameJson(old.schedule, schedule) ? old.anchor : now;
      next.set(key, { resource: r, schedule, anchor });
    }
    this.#syncs = next;
  }

  impact(change: Change, before: LiveResource | undefined, _state: LiveState, ctx: EngineContext): ImpactFact[] {
    const target = `${change.kind} ${change.id}`;
    if (change.action === 'delete' || change.kind === 'ApplicationParameter') return [];
    if (change.kind === 'Directory' && change.body.type === 'disabled') return [];
    // A run of a type the runtime does not read always fails: say so instead of promising one.
    if (change.kind === 'Directory' && !synchronizes(change.body.serverType)) {
      const was = before && before.body.type !== 'disabled' && !synchronizes(before.body.serverType);
      return was && before.body.serverType === change.body.serverType ? [] : [{ type: 'sync-unsupported', engine: NAME, target, reason: `directory type ${String(change.body.serverType)} is not synchronized by this runtime (only ${SYNCHRONIZED_SERVER_TYPES.join(' and ')} are)` }];
    }
    if (change.kind === 'UserImport' && !importsSource(change.body.source)) {
      const was = before && !importsSource(before.body.source);
      return was && before.body.source === change.body.source ? [] : [{ type: 'sync-unsupported', engine: NAME, target, reason: `import source ${String(change.body.source)} is not imported by this runtime (only ${IMPORTED_SOURCES.join(' and ')} are)` }];
    }
    if (change.action === 'create' || !before) return [{ type: 'sync-rerun', engine: NAME, target, reason: 'new: runs a first synchronization' }];
    const after = comparable(change.kind, change.body, ctx);
    const changed = (RERUN_FIELDS[change.kind] ?? []).filter((f) => !sameJson(before.body[f], after[f]));
    if (before.kind === 'Directory' && before.body.type === 'disabled') changed.unshift('type');
    if (changed.length === 0) return [];
    return [{ type: 'sync-rerun', engine: NAME, target, reason: `${changed.join(', ')} changed: the synchronization runs again` }];
  }

  status(): EngineReport {
    if (!this.#ctx) return { state: 'stopped' };
    const now = this.#ctx.now();
    const syncs: SyncStatus[] = [...this.#syncs.values()].map(({ resource: r, schedule: s, anchor }) => {
      const next = nextRun(s, anchor, now);
      return {
        kind: r.kind as SyncStatus['kind'],
        id: r.id,
        company: companyOfDomain(r.id),
        ...s,
        ...(next ? { nextRun: next.toISOString() } : {}),
      };
    });
    return { state: 'running', details: { syncs } };
  }

  async stop(): Promise<void> {
    this.#ctx = undefined;
  }
}
