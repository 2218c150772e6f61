/**
 * Helpers for the watch tests: a recording host that tests wait on (cycle events with a
 * timeout, never a fixed sleep where an event can be awaited), `switchboard watch` started
 * in-process in a scenario harness's working directory, git in a temp repository.
 */
import { execFileSync } from 'node:child_process';
import { Writable } from 'node:stream';
import type { Harness } from '../scenarios/harness.js';
import { startWatch, type WatchCommandOptions, type WatchSession } from '../../src/cli/watch.js';
import type { CycleEvent, WatchEvent, WatchHost } from '../../src/watch/events.js';
import type { AuditEntry } from '../../src/runtime/types.js';
import type { Scheduler } from '../../src/watch/watcher.js';

export const QUICK_ENV = { CSTA_PASSWORD: 'csta-secret-1', SWITCHBOARD_ADMIN_PASSWORD: 'admin-secret-1' };

interface Waiter {
  readonly from: number;
  readonly match: (c: CycleEvent) => boolean;
  readonly resolve: (c: CycleEvent) => void;
}

/** Records every event; `next` waits for a cycle event matching a predicate. */
export class Recorder implements WatchHost {
  readonly events: WatchEvent[] = [];
  readonly #waiters = new Set<Waiter>();

  emit(e: WatchEvent): void {
    this.events.push(e);
    if (e.type !== 'cycle') return;
    for (const w of this.#waiters) {
      if (this.events.length - 1 >= w.from && w.match(e)) {
        this.#waiters.delete(w);
        w.resolve(e);
      }
    }
  }

  get cycles(): CycleEvent[] {
    return this.events.filter((e): e is CycleEvent => e.type === 'cycle');
  }

  /** Index to pass as `from`: only events recorded after now. */
  get mark(): number {
    return this.events.length;
  }

  /**
   * The first cycle event recorded at or after `from` (default: after this call) that
   * matches; rejects after `timeoutMs` with what was seen meanwhile.
   */
  next(match: (c: CycleEvent) => boolean = () => true, options: { from?: number; timeoutMs?: number } = {}): Promise<CycleEvent> {
    const from = options.from ?? this.events.length;
    const seen = this.events.slice(from).find((e): e is CycleEvent => e.type === 'cycle' && match(e));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        const got = this.events.slice(from).map((e) => (e.type === 'cycle' ? `#${e.cycle} ${e.trigger} ${e.outcome}` : e.type));
        reject(new Error(`no matching cycle within ${options.timeoutMs ?? 10_000} ms; events since: ${got.join(', ') || 'none'}`));
      }, options.timeoutMs ?? 10_000);
      const waiter: Waiter = {
        from,
        match,
        resolve: (c) => {
          clearTimeout(timer);
          resolve(c);
        },
      };
      this.#waiters.add(waiter);
    });
  }

  /** Cycles recorded since `from`. */
  since(from: number): CycleEvent[] {
    return this.events.slice(from).filter((e): e is CycleEvent => e.type === 'cycle');
  }
}

const sink = new Writable({ write: (_c, _e, done) => done() }) as unknown as NodeJS.WriteStream;

/** The file-event timings tests use: a little shorter than the defaults, same mechanisms. */
export const TEST_FILE_EVENTS = { stabilityThresholdMs: 150, pollIntervalMs: 25 };

export interface Watching {
  readonly session: WatchSession;
  readonly rec: Recorder;
  /** Change sets committed through plans (watch's applies), oldest first. */
  planApplies(): Promise<AuditEntry[]>;
  stop(): Promise<void>;
}

/** `switchboard watch DIR` in the harness's working directory, against its runtime, in-process. */
export async function watchIn(h: Harness, dir: string, options: WatchCommandOptions = {}): Promise<Watching> {
  const env: Record<string, string> = { ...h.env };
  if (h.mode === 'http') {
    env.SWITCHBOARD_RUNTIME = h.url!;
    env.SWITCHBOARD_TOKEN = h.token!;
  }
  const rec = new Recorder();
  const session = await startWatch(dir, { debounce: '150ms', resync: '0', ...options }, { stdout: sink, env, cwd: h.dir }, { host: rec, fileEvents: TEST_FILE_EVENTS });
  return {
    session,
    rec,
    planApplies: async () => (await session.client.audit({ via: 'plan', limit: 1000 })).reverse(),
    stop: () => session.stop('test'),
  };
}

/** No cycle event for `ms` (a bounded wait for an absence: used sparingly). */
export async function quiet(rec: Recorder, ms: number): Promise<CycleEvent[]> {
  const from = rec.mark;
  await new Promise((r) => setTimeout(r, ms));
  return rec.since(from);
}

/** git in `cwd`, quietly; returns stdout. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** A repository in `dir` with a local identity and `main` as its branch. */
export function gitInit(dir: string): void {
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'config', 'user.name', 'Test Author');
  git(dir, 'config', 'user.email', 'author@example.com');
  git(dir, 'config', 'commit.gpgsign', 'false');
}

/** Timers that fire only when the test moves the clock (`advance`); `pending` lists their delays from now. */
export class ManualClock implements Scheduler {
  t = 0;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();
  #next = 1;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }
  get pending(): number[] {
    return [...this.#timers.values()].map((x) => x.at - this.t).sort((a, b) => a - b);
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.#timers.entries()].filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.#timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = end;
  }
  /** Wait (really) until a timer is set. */
  async settled(): Promise<void> {
    for (let i = 0; i < 2000 && this.#timers.size === 0; i++) await new Promise((r) => setTimeout(r, 2));
  }
}
