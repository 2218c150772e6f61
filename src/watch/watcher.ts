/**
 * The reconcile loop of `switchboard watch`: keeps a runtime converged on a configuration.
 *
 * Design note. The loop is level-based (as controller-runtime's reconcilers are): a cycle
 * always re-reads the whole tree (from the {@link TreeSource}) and the whole live state, plans
 * and applies the difference; events only decide *when* a cycle runs. That makes it robust
 * to what file watchers do — events coalesced, reordered, duplicated, or missed — and to
 * out-of-band edits. What the class adds around one cycle:
 * - debounce: file events start a timer that every further event restarts; the cycle runs
 *   when the tree has been quiet for `debounceMs` (an editor's atomic save, a `git checkout`
 *   of many files, a file written in pieces make one cycle);
 * - one cycle at a time: events during a cycle queue exactly one more;
 * - a resync timer (drift check) and a retry timer with exponential backoff on failure;
 * - stop(): no new cycle starts; a cycle still reading or planning sends nothing; a change set
 *   already sent is waited for (the runtime applies it atomically either way).
 *
 * Time comes from an injected {@link Scheduler}, file and git access from the source, the
 * runtime from a {@link RuntimeClient}; output is typed events to a {@link WatchHost}. The
 * class itself prints nothing and touches no file.
 */
import type { SourceResource } from '../config/parse.js';
import type { SecretSource } from '../config/secrets.js';
import type { SchemaResult } from '../schema/registry.js';
import { fieldPath } from '../diagnostics.js';
import type { KindName } from '../model/kinds.js';
import { getPath, type DesiredState } from '../model/resource.js';
import { applyPlan, type SecretValues } from '../apply/apply.js';
import { makePlan } from '../plan/planner.js';
import type { Plan } from '../plan/types.js';
import type { ChangeProblem, RuntimeClient } from '../runtime/types.js';
import { validateTree } from '../validate/validate.js';
import { driftOf, writersSince, type Writer } from './drift.js';
import type { CycleEvent, CycleTimings, DriftReport, PlanCounts, Trigger, WatchHost } from './events.js';
import { changeKey, holdChanges } from './hold.js';
import type { TreeSnapshot, TreeSource } from './tree-source.js';

/** Clock and timers (real ones in the CLI, a manual clock in tests). */
export interface Scheduler {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemScheduler: Scheduler = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** What the edge tells the watcher: a configuration path changed, or git HEAD may have moved. */
export type WatchSignal = { readonly type: 'file'; readonly path: string } | { readonly type: 'head' };

export const DEFAULT_DEBOUNCE_MS = 300;
export const DEFAULT_RESYNC_MS = 5 * 60_000;
export const DEFAULT_BACKOFF = { initialMs: 1000, maxMs: 60_000 } as const;
/** A stale change set (someone committed between plan and apply) is re-planned this many times at once. */
const STALE_ATTEMPTS = 3;

export interface WatcherOptions {
  /** The configuration root as given (recorded in plans). */
  readonly root: string;
  /** The company the configuration is scoped to (its .switchboard-company): plans own only its resources. */
  readonly company?: string;
  readonly source: TreeSource;
  readonly client: RuntimeClient;
  readonly secrets: SecretSource;
  readonly host: WatchHost;
  /** Kinds whose deletions apply automatically; other deletions are held. */
  readonly allowDestroy?: ReadonlySet<KindName>;
  /** Revert out-of-band changes (default true). */
  readonly selfHeal?: boolean;
  /** Drift check period; 0 = none. */
  readonly resyncMs?: number;
  readonly debounceMs?: number;
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  readonly scheduler?: Scheduler;
  /** For the audit log (an HTTP runtime records the token's admin instead). */
  readonly actor?: string;
  readonly mode?: 'working-tree' | 'committed-only';
}

/** Secret values from the validated configuration (what `apply DIR` sends). */
function secretsFromState(state: DesiredState): SecretValues {
  // Built on the first secret asked for: most change sets carry none.
  let byKey: Map<string, DesiredState['resources'][number]> | undefined;
  return (kind, id, field) => {
    byKey ??= new Map(state.resources.map((r) => [changeKey(r), r]));
    const r = byKey.get(changeKey({ kind, id }));
    const p = r?.secrets.find((s) => fieldPath(s) === field);
    const v = p ? getPath(r!.body, p) : undefined;
    return typeof v === 'string' ? v : undefined;
  };
}

/** An error that means the runtime could not be reached (as opposed to one that answered with an error). */
export function isUnreachable(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const text = `${e.message} ${e.cause instanceof Error ? e.cause.message : ''}`;
  if (/ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|fetch failed|socket hang up|timed out|other side closed/i.test(text)) return true;
  return e.name === 'RuntimeError' && (e as { status?: number }).status === undefined && /unreachable|cannot reach|not reachable/i.test(e.message);
}

const TRIGGER_PRIORITY: readonly Trigger[] = ['files', 'head', 'retry', 'resync', 'start'];

const planCounts = (p: Plan): PlanCounts => ({ create: p.summary.create, update: p.summary.update, replace: p.summary.replace, delete: p.summary.delete });

export class Watcher {
  readonly #o: WatcherOptions;
  readonly #clock: Scheduler;
  readonly #debounceMs: number;
  readonly #resyncMs: number;
  readonly #backoff: { readonly initialMs: number; readonly maxMs: number };
  readonly #allowDestroy: ReadonlySet<KindName>;
  readonly #selfHeal: boolean;

  #cycles = 0;
  #running: Promise<void> | undefined;
  /** Triggers waiting for the next cycle. */
  readonly #pending = new Set<Trigger>();
  /** Absolute paths events named since the last cycle. */
  #hints = new Set<string>();
  #debounce: unknown;
  #resync: unknown;
  #retry: unknown;
  /** Failed cycles in a row. */
  #failures = 0;
  /** The runtime's revision when this watcher last looked at it. */
  #lastRevision: number | undefined;
  /** Revisions this watcher committed (its own audit entries are not drift). */
  readonly #own = new Set<number>();
  /** With --no-self-heal: resources changed out of band whose revert stays held. */
  readonly #outOfBand = new Set<string>();
  /** The last cycle left nothing to retry: a resync may skip planning when nothing moved. */
  #steady = false;
  /** Schema results of parsed resources: the source's parse cache hands the same objects for unchanged files. */
  readonly #schemaCache = new WeakMap<SourceResource, SchemaResult>();
  /** The tree takes secrets from files (\${file:…}), which no event reports. */
  #fileSecrets = false;
  #stopping = false;
  #stopped: Promise<void> | undefined;

  constructor(options: WatcherOptions) {
    this.#o = options;
    this.#clock = options.scheduler ?? systemScheduler;
    this.#debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
    this.#resyncMs = options.resyncMs ?? DEFAULT_RESYNC_MS;
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.#allowDestroy = options.allowDestroy ?? new Set();
    this.#selfHeal = options.selfHeal ?? true;
  }

  get cycles(): number {
    return this.#cycles;
  }

  /** Emit the started event and run the first cycle at once. */
  start(): void {
    const o = this.#o;
    o.host.emit({
      type: 'started',
      at: new Date(this.#clock.now()).toISOString(),
      root: o.root,
      runtime: o.client.location,
      mode: o.mode ?? 'working-tree',
      resyncMs: this.#resyncMs,
      debounceMs: this.#debounceMs,
      allowDestroy: [...this.#allowDestroy].sort(),
      selfHeal: this.#selfHeal,
    });
    this.#pending.add('start');
    this.#kick();
  }

  /** A file event or a HEAD change: (re)start the debounce timer. */
  notify(signal: WatchSignal): void {
    if (this.#stopping) return;
    if (signal.type === 'file') this.#hints.add(signal.path);
    this.#pending.add(signal.type === 'file' ? 'files' : 'head');
    if (this.#debounce !== undefined) this.#clock.clearTimeout(this.#debounce);
    this.#debounce = this.#clock.setTimeout(() => {
      this.#debounce = undefined;
      this.#kick();
    }, this.#debounceMs);
  }

  /**
   * Stop: no new cycle; wait for the one in flight (which sends nothing more once stopping,
   * but finishes a change set already sent). Emits the stopped event.
   */
  stop(reason = 'stopped'): Promise<void> {
    if (this.#stopped) return this.#stopped;
    this.#stopping = true;
    for (const t of [this.#debounce, this.#resync, this.#retry]) if (t !== undefined) this.#clock.clearTimeout(t);
    this.#debounce = this.#resync = this.#retry = undefined;
    this.#stopped = (async () => {
      while (this.#running) await this.#running;
      this.#o.host.emit({ type: 'stopped', at: new Date(this.#clock.now()).toISOString(), reason, cycles: this.#cycles });
    })();
    return this.#stopped;
  }

  /**
   * Run a cycle now if none is running and the files are quiet; otherwise the pending
   * triggers wait for the running cycle to end or the debounce to run out (a resync or a
   * retry never cuts into a burst of file events).
   */
  #kick(): void {
    if (this.#running || this.#stopping || this.#pending.size === 0 || this.#debounce !== undefined) return;
    const trigger = TRIGGER_PRIORITY.find((t) => this.#pending.has(t))!;
    this.#pending.clear();
    const hints = this.#hints;
    this.#hints = new Set();
    this.#running = this.#cycle(trigger, hints)
      .catch(() => undefined) // #cycle reports its own failures; never let one escape the loop
      .finally(() => {
        this.#running = undefined;
        if (this.#stopping) return;
        this.#scheduleResync();
        this.#kick(); // triggers that came during the cycle
      });
  }

  #scheduleResync(): void {
    if (this.#resyncMs <= 0) return;
    if (this.#resync !== undefined) this.#clock.clearTimeout(this.#resync);
    this.#resync = this.#clock.setTimeout(() => {
      this.#resync = undefined;
      this.#pending.add('resync');
      this.#kick();
    }, this.#resyncMs);
  }

  /** The cycle reached the runtime and left nothing to retry. */
  #settled(): void {
    this.#steady = true;
    this.#failures = 0;
    if (this.#retry !== undefined) this.#clock.clearTimeout(this.#retry);
    this.#retry = undefined;
  }

  #scheduleRetry(ms: number): void {
    if (this.#retry !== undefined) this.#clock.clearTimeout(this.#retry);
    this.#retry = this.#clock.setTimeout(() => {
      this.#retry = undefined;
      this.#pending.add('retry');
      this.#kick();
    }, ms);
  }

  async #cycle(trigger: Trigger, hints: ReadonlySet<string>): Promise<void> {
    const o = this.#o;
    const cycle = ++this.#cycles;
    const t0 = this.#clock.now();
    const timings: { -readonly [K in keyof CycleTimings]: number } = {};
    const time = async <T>(phase: keyof CycleTimings, f: () => T | Promise<T>): Promise<T> => {
      const t = performance.now();
      try {
        return await f();
      } finally {
        timings[phase] = (timings[phase] ?? 0) + Math.round((performance.now() - t) * 10) / 10;
      }
    };
    let snapshot: TreeSnapshot | undefined;
    const emit = (e: Omit<CycleEvent, 'type' | 'cycle' | 'trigger' | 'at' | 'files' | 'parsed' | 'durationMs' | 'timings' | 'held' | 'drift'> & Partial<Pick<CycleEvent, 'held' | 'drift'>>) => {
      o.host.emit({
        type: 'cycle',
        cycle,
        trigger,
        at: new Date(t0).toISOString(),
        files: snapshot?.changed ?? [],
        parsed: snapshot?.parsed ?? 0,
        ...(snapshot?.git ? { git: snapshot.git } : {}),
        held: [],
        drift: [],
        ...e,
        durationMs: Math.round(this.#clock.now() - t0),
        timings,
      });
    };
    try {
      snapshot = await time('load', () => o.source.load(hints));
      if (trigger !== 'start' && this.#steady && !this.#fileSecrets && snapshot.changed.length === 0 && this.#lastRevision !== undefined) {
        // Neither the files nor the runtime moved since the last cycle (a resync, a save
        // without changes, HEAD moved to the same tree): nothing can differ. Not so when
        // secrets come from files, which are not watched: those cycles always plan.
        const { revision } = await o.client.status();
        if (revision === this.#lastRevision) {
          emit({ outcome: 'unchanged', revision });
          return;
        }
      }
      const result = await time('validate', () => validateTree(snapshot!.tree, { secrets: o.secrets, schemaCache: this.#schemaCache }));
      this.#fileSecrets = result.state.resources.some((r) => r.secretRefs !== undefined && Object.values(r.secretRefs).some((ref) => ref.startsWith('${file:')));
      const errors = result.diagnostics.filter((d) => d.severity === 'error').length;
      const warnings = result.diagnostics.length - errors;
      const diagnostics = result.diagnostics.length > 0 ? { diagnostics: result.diagnostics, errors, warnings } : {};
      if (!result.ok) {
        this.#steady = true;
        emit({ outcome: 'invalid', ...diagnostics, ...(this.#lastRevision !== undefined ? { revision: this.#lastRevision } : {}) });
        return;
      }
      for (let attempt = 1; ; attempt++) {
        const plan = await time('plan', () => makePlan(result.state, o.client, { root: o.root, ...(o.company !== undefined ? { company: o.company } : {}), ...(snapshot!.git ? { git: snapshot!.git } : {}) }));
        let writers = new Map<string, Writer>();
        if (this.#lastRevision !== undefined && plan.runtime.revision > this.#lastRevision) {
          const entries = await time('plan', () => o.client.audit({ sinceRevision: this.#lastRevision, limit: 1000 }));
          writers = writersSince(entries, this.#own);
        }
        const drift = driftOf(plan.changes, writers);
        if (!this.#selfHeal) {
          for (const c of drift.keys()) this.#outOfBand.add(changeKey(c));
          const inPlan = new Set(plan.changes.map(changeKey));
          for (const k of this.#outOfBand) if (!inPlan.has(k)) this.#outOfBand.delete(k);
        }
        const { plan: toApply, held } = holdChanges(plan, { allowDestroy: this.#allowDestroy, ...(this.#selfHeal ? {} : { outOfBand: this.#outOfBand }) });
        const heldKeys = new Set(held.map(changeKey));
        const driftReports = (applied: boolean): DriftReport[] => [...drift.values()].map((d) => ({ ...d, reverted: applied && !heldKeys.has(changeKey(d)) }));
        if (toApply.changes.length === 0) {
          this.#lastRevision = plan.runtime.revision;
          this.#settled();
          emit({ outcome: 'no-changes', plan: planCounts(plan), revision: plan.runtime.revision, held, drift: driftReports(false), ...(warnings > 0 ? diagnostics : {}) });
          return;
        }
        if (this.#stopping) {
          emit({ outcome: 'cancelled', plan: planCounts(plan), revision: plan.runtime.revision, held, drift: driftReports(false) });
          return;
        }
        const outcome = await time('apply', () => applyPlan(toApply, o.client, { allowDestroy: this.#allowDestroy, secrets: secretsFromState(result.state), ...(o.actor ? { actor: o.actor } : {}) }));
        if (outcome.ok) {
          this.#own.add(outcome.revision);
          this.#lastRevision = outcome.revision;
          this.#settled();
          emit({ outcome: 'applied', plan: planCounts(plan), applied: toApply.changes.length, revision: outcome.revision, held, drift: driftReports(true), ...(warnings > 0 ? diagnostics : {}) });
          return;
        }
        if (outcome.code === 'stale' && attempt < STALE_ATTEMPTS && !this.#stopping) continue; // someone committed in between: plan again
        if (outcome.code === 'stale') throw new Error(`the runtime kept moving while planning (${STALE_ATTEMPTS} stale attempts in a row)`);
        // Refused (an invariant, a licence …): the same tree would be refused again, so wait
        // for the files or the runtime to change rather than retrying.
        this.#lastRevision = plan.runtime.revision;
        this.#settled();
        const problems: ChangeProblem[] = 'problems' in outcome ? outcome.problems.map((p) => ({ code: p.code, message: p.message, kind: p.kind, ...('id' in p && p.id ? { id: p.id } : {}), ...('path' in p && p.path ? { path: p.path } : {}) })) : [];
        emit({ outcome: 'refused', plan: planCounts(plan), revision: plan.runtime.revision, held, drift: driftReports(false), refusal: { code: outcome.code, message: outcome.message, problems } });
        return;
      }
    } catch (e) {
      this.#steady = false;
      this.#failures++;
      const retryInMs = Math.min(this.#backoff.maxMs, this.#backoff.initialMs * 2 ** (this.#failures - 1));
      if (!this.#stopping) this.#scheduleRetry(retryInMs);
      emit({ outcome: 'failed', failure: { message: (e as Error).message, unreachable: isUnreachable(e), attempt: this.#failures, retryInMs } });
    }
  }
}
