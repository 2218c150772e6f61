/**
 * `user-import`: runs each UserImport on its schedule and reports every import's last run.
 *
 * Schedules (the import's `schedule`): `daily` at `at` (HH:MM, local time) — without `at`, at
 * the company's System parameter timeSynchronizationDirectories (its domain override first; a
 * company that sets none leaves it unscheduled, as the status says) — `interval` every N
 * minutes/hours counted from when the engine learned the schedule, `manual` (default): only
 * `switchboard sync run`.
 *
 * A run is src/sync/run.ts: it reads the whole source, then commits one change set or nothing,
 * and records itself under `<dataDir>/sync/` — which is where the status reads the last run
 * from, so runs made by `switchboard sync run` in another process show here too. One run per
 * import at a time; a run that fails is reported (in the record and the log) and the import
 * simply runs again at its next time: the engine itself does not fail for a source outage.
 */
import type { KindName } from '../../model/kinds.js';
import { runDirectory } from '../../sync/directory-run.js';
import { runHistory, runUserImport, type RunRecord } from '../../sync/run.js';
import type { CommittedEvent } from '../core.js';
import type { Engine, EngineContext, EngineReport } from '../engines.js';
import type { Runtime } from '../runtime.js';
import type { LiveResource } from '../types.js';
import { nextRun, scheduleOf, SYNC_TIME_PARAMETER, type Schedule } from './sync-schedules.js';
import { companyOfDomain, sameJson } from './util.js';

interface Scheduled {
  resource: LiveResource;
  schedule: Schedule;
  anchor: Date;
  timer: NodeJS.Timeout | undefined;
  next: Date | undefined;
  running: Promise<RunRecord | undefined> | undefined;
}


/** Longest single timer (setTimeout overflows past 2^31 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class UserImportEngine implements Engine {
  readonly name: string = 'user-import';
  readonly kinds: readonly KindName[] = ['UserImport', 'ApplicationParameter'];
  /** What one run is, and what the status and log call it. */
  protected readonly sync: { readonly kind: 'UserImport' | 'Directory'; readonly what: string; readonly run: (rt: Runtime, id: string) => Promise<RunRecord> } = {
    kind: 'UserImport',
    what: 'user import',
    run: (rt, id) => runUserImport(rt, id),
  };
  readonly #runtime: () => Runtime | undefined;
  #ctx: EngineContext | undefined;
  #imports = new Map<string, Scheduled>();

  /** `runtime`: the runtime whose imports run here (undefined: status only, nothing runs). */
  constructor(runtime: () => Runtime | undefined = () => undefined) {
    this.#runtime = runtime;
  }

  async start(ctx: EngineContext, live: readonly LiveResource[]): Promise<void> {
    this.#ctx = ctx;
    this.#imports = new Map();
    this.#load(live);
  }

  async onChange(_event: CommittedEvent, live: readonly LiveResource[]): Promise<void> {
    this.#load(live);
  }

  #load(live: readonly LiveResource[]): void {
    const now = this.#ctx?.now() ?? new Date();
    const next = new Map<string, Scheduled>();
    const parameters = live.filter((r) => r.kind === 'ApplicationParameter');
    for (const r of live) {
      if (r.kind !== this.sync.kind) continue;
      const old = this.#imports.get(r.id);
      const schedule = scheduleOf(r, parameters);
      if (old && sameJson(old.schedule, schedule)) {
        old.resource = r;
        next.set(r.id, old);
        continue;
      }
      if (old?.timer) clearTimeout(old.timer);
      const s: Scheduled = { resource: r, schedule, anchor: now, timer: undefined, next: undefined, running: old?.running };
      next.set(r.id, s);
      this.#arm(s);
    }
    for (const [id, old] of this.#imports) if (!next.has(id) && old.timer) clearTimeout(old.timer);
    this.#imports = next;
  }

  #arm(s: Scheduled): void {
    if (!this.#ctx) return;
    const now = this.#ctx.now();
    s.next = nextRun(s.schedule, s.anchor, now);
    if (!s.next || !this.#runtime()) return;
    const delay = Math.min(Math.max(0, s.next.getTime() - now.getTime()), MAX_TIMER_MS);
    s.timer = setTimeout(() => {
      s.timer = undefined;
      if (this.#ctx && this.#ctx.now().getTime() + 1000 < s.next!.getTime()) this.#arm(s); // a long wait in several timers
      else void this.runNow(s.resource.id).finally(() => this.#imports.get(s.resource.id) === s && this.#arm(s));
    }, delay);
    s.timer.unref();
  }

  /** Run an import now (scheduled runs; also usable by the API). Resolves with the record, undefined if not running here. */
  async runNow(id: string): Promise<RunRecord | undefined> {
    const s = this.#imports.get(id);
    const rt = this.#runtime();
    if (!s || !rt || !this.#ctx) return undefined;
    if (s.running) return s.running;
    const log = this.#ctx.log;
    s.running = (async () => {
      try {
        const record = await this.sync.run(rt, id);
        const level = record.outcome === 'failed' || record.outcome === 'refused' ? 'warn' : 'info';
        log[level]({ [this.sync.kind === 'UserImport' ? 'import' : 'directory']: id, outcome: record.outcome, counts: record.counts, ...(record.message ? { reason: record.message } : {}) }, `${this.sync.what} run`);
        return record;
      } catch (e) {
        log.error({ [this.sync.kind === 'UserImport' ? 'import' : 'directory']: id, err: (e as Error).message }, `${this.sync.what} run failed`);
        return undefined;
      } finally {
        s.running = undefined;
      }
    })();
    return s.running;
  }

  status(): EngineReport {
    const ctx = this.#ctx;
    if (!ctx) return { state: 'stopped' };
    const rt = this.#runtime();
    const imports = [...this.#imports.values()].map((s) => {
      const r = s.resource;
      const sched = s.schedule;
      const last = rt ? runHistory(rt.dataDir, this.sync.kind, r.id)[0] : undefined;
      return {
        id: r.id,
        company: companyOfDomain(r.id),
        schedule: sched.mode === 'daily' && !sched.at ? { ...sched, note: `daily without at, and company ${companyOfDomain(r.id)} sets no ${SYNC_TIME_PARAMETER}: not scheduled (give at, or set the System parameter)` } : sched,
        ...(s.next ? { nextRun: s.next.toISOString() } : {}),
        running: s.running !== undefined,
        ...(last
          ? {
              lastRun: {
                outcome: last.outcome,
                startedAt: last.startedAt,
                endedAt: last.endedAt,
                ...last.counts,
                ...(last.message ? { message: last.message } : {}),
              },
            }
          : {}),
      };
    });
    const failing = imports.filter((i) => i.lastRun && (i.lastRun.outcome === 'failed' || i.lastRun.outcome === 'refused')).length;
    return {
      state: 'running',
      ...(failing > 0 ? { message: `${failing} ${this.sync.kind === 'UserImport' ? 'import' : 'director'}${failing === 1 ? (this.sync.kind === 'UserImport' ? '' : 'y') : this.sync.kind === 'UserImport' ? 's' : 'ies'} failed or refused on the last run` } : {}),
      details: this.sync.kind === 'UserImport' ? { imports } : { directories: imports },
    };
  }

  async stop(): Promise<void> {
    for (const s of this.#imports.values()) if (s.timer) clearTimeout(s.timer);
    await Promise.all([...this.#imports.values()].map((s) => s.running));
    this.#imports = new Map();
    this.#ctx = undefined;
  }
}

/**
 * `directory-sync`: runs each Directory on its `sync` schedule (src/sync/directory-run.ts),
 * exactly as `user-import` runs imports; its status lists each directory and its last run.
 */
export class DirectorySyncEngine extends UserImportEngine {
  override readonly name: string = 'directory-sync';
  override readonly kinds: readonly KindName[] = ['Directory', 'ApplicationParameter'];
  protected override readonly sync = { kind: 'Directory' as const, what: 'directory', run: (rt: Runtime, id: string) => runDirectory(rt, id) };
}
