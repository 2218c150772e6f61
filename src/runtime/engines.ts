/**
 * The engine host. An engine is a level-based reconciler of part of the world (PBX links, sync
 * schedules, …): it declares the kinds it watches, is started with the live resources of those
 * kinds, receives every committed change touching them (whoever committed it, this process or
 * another on the same store) together with the current live resources, and converges the world
 * to them. It reports its status and, asked about a planned change, what that change would do
 * to the running system ({@link ImpactFact}s, shown in plans).
 *
 * Isolation: an engine that throws (from start or onChange) is marked failed, stopped, and
 * restarted with exponential backoff (1 s, 2 s, 4 s … 60 s; the streak resets after a minute
 * of good health); the other engines keep running. A restart starts from the current live
 * state, so no change is lost while an engine is down. Changes are delivered to each engine in
 * commit order, one at a time.
 */
import type { KindName } from '../model/kinds.js';
import type { CommittedEvent } from './core.js';
import { PbxLinksEngine } from './engines/pbx-links.js';
import { SyncSchedulesEngine } from './engines/sync-schedules.js';
import { DirectorySyncEngine, UserImportEngine } from './engines/user-import.js';
import type { Runtime, RuntimeLog } from './runtime.js';
import type { Change, ChangeImpact, EngineStatus, ImpactFact, LiveResource, LiveState } from './types.js';

/** What the host gives an engine. */
export interface EngineContext {
  readonly log: RuntimeLog;
  /** Keyed fingerprint of a candidate secret value (to compare with the live `{ $secret }`). */
  fingerprint(value: string): string;
  /** The clear value of a secret field of a live resource (to send it to a PBX or directory); never log it. */
  secret(kind: KindName, id: string, field: readonly (string | number)[]): string | undefined;
  now(): Date;
}

/** The status an engine reports; the host adds name, restarts and since. */
export type EngineReport = Omit<EngineStatus, 'name' | 'restarts' | 'since'>;

export interface Engine {
  readonly name: string;
  readonly kinds: readonly KindName[];
  /** Start from the live resources of `kinds`. Also called on restart after a failure. */
  start(ctx: EngineContext, live: readonly LiveResource[]): Promise<void>;
  /** A committed change set touching `kinds` (only those changes), with the live resources of `kinds` after it. */
  onChange(event: CommittedEvent, live: readonly LiveResource[]): Promise<void>;
  /**
   * What `change` would do to the running system, `before` being the live resource it
   * replaces (undefined on create), `state` the live state, and `after` the live state once
   * every change of the same list is applied (what the engine will converge to: a plan's
   * extensions are carried by the links the same plan creates). Pure: no I/O, callable on an
   * engine that is not started.
   */
  impact?(change: Change, before: LiveResource | undefined, state: LiveState, ctx: EngineContext, after: LiveState): ImpactFact[];
  status(): EngineReport;
  stop(): Promise<void>;
}

/** The engines shipped with Switchboard; `runtime` lets the sync engines commit their runs. */
export function builtinEngines(runtime?: () => Runtime | undefined): Engine[] {
  return [new PbxLinksEngine(), new SyncSchedulesEngine(), new UserImportEngine(runtime), new DirectorySyncEngine(runtime)];
}

export interface EngineHostOptions {
  /** First restart delay (default 1,000 ms); doubles per consecutive failure. */
  readonly initialBackoffMs?: number;
  /** Longest restart delay (default 60,000 ms). */
  readonly maxBackoffMs?: number;
  /** After this long running without failure, the backoff starts over (default 60,000 ms). */
  readonly healthyAfterMs?: number;
  readonly now?: () => Date;
}

interface HostDeps extends EngineHostOptions {
  readonly log: RuntimeLog;
  fingerprint(values: readonly string[]): string[];
  secret(kind: KindName, id: string, field: readonly (string | number)[]): string | undefined;
  live(kinds: readonly KindName[]): LiveResource[];
  state(): LiveState;
}

interface Slot {
  readonly engine: Engine;
  readonly kinds: ReadonlySet<KindName>;
  readonly ctx: EngineContext;
  state: EngineStatus['state'];
  message: string | undefined;
  restarts: number;
  since: Date;
  streak: number;
  runningSince: number;
  timer: NodeJS.Timeout | undefined;
  queue: Promise<void>;
  /** Bumped on every (re)start: queued deliveries of an older generation are dropped. */
  generation: number;
}

export class EngineHost {
  readonly #slots: Slot[];
  readonly #deps: HostDeps;
  #started = false;
  #stopping = false;

  constructor(engines: readonly Engine[], deps: HostDeps) {
    this.#deps = deps;
    const now = deps.now ?? (() => new Date());
    const names = new Set<string>();
    this.#slots = engines.map((engine) => {
      if (names.has(engine.name)) throw new Error(`two engines are named '${engine.name}'`);
      names.add(engine.name);
      const log = childLog(deps.log, { engine: engine.name });
      return {
        engine,
        kinds: new Set(engine.kinds),
        ctx: { log, fingerprint: (v: string) => deps.fingerprint([v])[0]!, secret: (kind, id, field) => deps.secret(kind, id, field), now },
        state: 'stopped' as const,
        message: 'not started in this process',
        restarts: 0,
        since: now(),
        streak: 0,
        runningSince: 0,
        timer: undefined,
        queue: Promise.resolve(),
        generation: 0,
      };
    });
  }

  /** Start every engine; resolves when each has started or failed (failures are isolated). */
  async start(): Promise<void> {
    this.#started = true;
    await Promise.all(this.#slots.map((s) => this.#run(s)));
  }

  async #run(slot: Slot): Promise<void> {
    if (this.#stopping) return;
    const generation = ++slot.generation;
    this.#set(slot, 'starting', undefined);
    try {
      await slot.engine.start(slot.ctx, this.#deps.live([...slot.kinds]));
      if (generation !== slot.generation || this.#stopping) return;
      slot.runningSince = Date.now();
      this.#set(slot, 'running', undefined);
      slot.ctx.log.info({ engine: slot.engine.name, restarts: slot.restarts }, 'engine started');
    } catch (e) {
      this.#fail(slot, e);
    }
  }

  #fail(slot: Slot, e: unknown): void {
    if (this.#stopping) return;
    const message = e instanceof Error ? e.message : String(e);
    slot.generation++;
    if (slot.runningSince > 0 && Date.now() - slot.runningSince >= (this.#deps.healthyAfterMs ?? 60_000)) slot.streak = 0;
    slot.runningSince = 0;
    const delay = Math.min((this.#deps.initialBackoffMs ?? 1000) * 2 ** slot.streak, this.#deps.maxBackoffMs ?? 60_000);
    slot.streak++;
    slot.ctx.log.error({ engine: slot.engine.name, err: message, retryInMs: delay, failures: slot.streak }, 'engine failed');
    this.#set(slot, 'backoff', `failed: ${message}; restarting in ${formatDelay(delay)}`);
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      void (async () => {
        try {
          await slot.engine.stop();
        } catch (err) {
          slot.ctx.log.warn({ engine: slot.engine.name, err: (err as Error).message }, 'engine stop failed before restart');
        }
        if (this.#stopping) return;
        slot.restarts++;
        await this.#run(slot);
      })();
    }, delay);
    slot.timer.unref();
  }

  #set(slot: Slot, state: EngineStatus['state'], message: string | undefined): void {
    slot.state = state;
    slot.message = message;
    slot.since = slot.ctx.now();
  }

  /** Queue a committed change set for the running engines that watch one of its kinds. */
  deliver(event: CommittedEvent): void {
    if (!this.#started || this.#stopping) return;
    for (const slot of this.#slots) {
      const changes = event.changes.filter((c) => slot.kinds.has(c.kind));
      if (changes.length === 0) continue;
      const generation = slot.generation;
      slot.queue = slot.queue.then(async () => {
        // A failed or restarted engine starts again from the live state: nothing to replay.
        if (slot.state !== 'running' || generation !== slot.generation || this.#stopping) return;
        try {
          await slot.engine.onChange({ ...event, changes }, this.#deps.live([...slot.kinds]));
        } catch (e) {
          if (generation === slot.generation) this.#fail(slot, e);
        }
      });
    }
  }

  /** The engine named `name` when it is running in this process. */
  running(name: string): Engine | undefined {
    const slot = this.#slots.find((s) => s.engine.name === name);
    return slot && slot.state === 'running' ? slot.engine : undefined;
  }

  /** Resolves when every delivery queued so far has been handled (tests, graceful stop). */
  async idle(): Promise<void> {
    await Promise.all(this.#slots.map((s) => s.queue));
  }

  /**
   * Each engine's status. `canSee` (a company admin's view) filters the lists in `details`:
   * an item that is an object with a `company` field is kept only when `canSee(company)`.
   */
  status(canSee?: (company: string) => boolean): EngineStatus[] {
    return this.#slots.map((slot) => {
      let report: EngineReport;
      try {
        report = slot.engine.status();
      } catch (e) {
        report = { state: 'failed', message: `status failed: ${(e as Error).message}` };
      }
      const own = slot.state !== 'running';
      const details = report.details && canSee ? filterDetails(report.details, canSee) : report.details;
      return {
        name: slot.engine.name,
        state: own ? slot.state : report.state,
        ...(own ? (slot.message !== undefined ? { message: slot.message } : {}) : report.message !== undefined ? { message: report.message } : {}),
        restarts: slot.restarts,
        since: slot.since.toISOString(),
        ...(details ? { details } : {}),
      };
    });
  }

  /** The facts every engine gives for each change; only changes with facts are listed. */
  impact(changes: readonly Change[], before: (kind: KindName, id: string) => LiveResource | undefined): ChangeImpact[] {
    let state: LiveState | undefined;
    let after: LiveState | undefined;
    const out: ChangeImpact[] = [];
    changes.forEach((change, index) => {
      const facts: ImpactFact[] = [];
      for (const slot of this.#slots) {
        if (!slot.engine.impact || !slot.kinds.has(change.kind)) continue;
        state ??= this.#deps.state();
        after ??= stateAfter(state, changes);
        try {
          facts.push(...slot.engine.impact(change, before(change.kind, change.id), state, slot.ctx, after));
        } catch (e) {
          slot.ctx.log.error({ engine: slot.engine.name, err: (e as Error).message, kind: change.kind, id: change.id }, 'engine impact failed');
        }
      }
      if (facts.length > 0) out.push({ index, facts });
    });
    return out;
  }

  /** Stop every engine (after the deliveries in flight). */
  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(
      this.#slots.map(async (slot) => {
        if (slot.timer) clearTimeout(slot.timer);
        slot.timer = undefined;
        await slot.queue;
        const wasStarted = slot.state !== 'stopped';
        slot.generation++;
        if (wasStarted) {
          try {
            await slot.engine.stop();
          } catch (e) {
            slot.ctx.log.warn({ engine: slot.engine.name, err: (e as Error).message }, 'engine stop failed');
          }
        }
        this.#set(slot, 'stopped', undefined);
      }),
    );
  }
}

/** `state` with every change applied (bodies as the changes give them), in the same order: the `after` of {@link Engine.impact}. */
export function stateAfter(state: LiveState, changes: readonly Change[]): LiveState {
  const byKey = new Map<string, LiveResource>(state.resources.map((r) => [`${r.kind}\0${r.id}`, r]));
  for (const c of changes) {
    const key = `${c.kind}\0${c.id}`;
    if (c.action === 'delete') byKey.delete(key);
    else {
      const was = byKey.get(key);
      // A resource not written yet: only kind, id and body are meaningful to an impact.
      byKey.set(key, was ? { ...was, body: c.body } : { kind: c.kind, id: c.id, body: c.body, manager: (c.action === 'create' && c.manager) || 'config', revision: state.revision + 1, updatedAt: '', updatedBy: '', updatedVia: 'plan' });
    }
  }
  return { revision: state.revision, resources: [...byKey.values()] };
}

function filterDetails(details: Readonly<Record<string, unknown>>, canSee: (company: string) => boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(details)) {
    out[k] = Array.isArray(v)
      ? v.filter((item) => !(item && typeof item === 'object' && typeof (item as { company?: unknown }).company === 'string') || canSee((item as { company: string }).company))
      : v;
  }
  return out;
}

/** A log that adds `fields` to every line (an engine's name, a link's id). */
export function childLog(log: RuntimeLog, fields: Readonly<Record<string, unknown>>): RuntimeLog {
  return {
    debug: (f, m) => log.debug({ ...fields, ...f }, m),
    info: (f, m) => log.info({ ...fields, ...f }, m),
    warn: (f, m) => log.warn({ ...fields, ...f }, m),
    error: (f, m) => log.error({ ...fields, ...f }, m),
  };
}

function formatDelay(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}
