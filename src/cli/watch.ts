/**
 * `switchboard watch`: the edges of the reconcile loop — chokidar on the configuration (or on
 * git's HEAD and refs with --committed-only), the runtime connection, SIGINT/SIGTERM, and the
 * terminal or JSON output. The loop itself is src/watch/watcher.ts.
 */
import { existsSync } from 'node:fs';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { watch as chokidarWatch, type FSWatcher } from 'chokidar';
import type { CliIo } from './main.js';
import { openRuntime } from './runtime.js';
import { gitInfo } from './git.js';
import { CliError, companyScope } from './reconcile.js';
import { processSecretSource } from '../config/secrets.js';
import { parseAllowDestroy } from '../plan/safety.js';
import type { RuntimeClient } from '../runtime/types.js';
import { DEFAULT_DEBOUNCE_MS, DEFAULT_RESYNC_MS, Watcher, type Scheduler } from '../watch/watcher.js';
import { GitHeadSource, isConfigPath, WorkingTreeSource, type TreeSource } from '../watch/tree-source.js';
import { renderCycleText, renderStartedText, renderStoppedText, type WatchEvent, type WatchHost } from '../watch/events.js';

export interface WatchCommandOptions {
  readonly runtime?: string;
  /** Drift-check period: `5m`, `30s`, `300ms`, `0` (never). */
  readonly resync?: string;
  /** Quiet time after a file event: `300ms`. */
  readonly debounce?: string;
  readonly allowDestroy?: readonly string[];
  readonly committedOnly?: boolean;
  /** false with --no-self-heal. */
  readonly selfHeal?: boolean;
  readonly format?: 'text' | 'json';
  /** Directories besides the configuration that `${file:}` references may read. */
  readonly secretsDir?: readonly string[];
}

/** Timings of chokidar's write-finish detection (a file must keep its size this long). */
export interface FileEventTuning {
  readonly stabilityThresholdMs: number;
  readonly pollIntervalMs: number;
}

export const DEFAULT_FILE_EVENTS: FileEventTuning = { stabilityThresholdMs: 200, pollIntervalMs: 50 };

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

/** `300ms`, `30s`, `5m`, `1h`, `1.5s`; `0` or `off` for none. */
export function parseDuration(text: string, option: string): number {
  const t = text.trim().toLowerCase();
  if (t === '0' || t === 'off') return 0;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|min|m|h)$/.exec(t);
  if (!m) throw new CliError(`${option}: '${text}' is not a duration: write it like 300ms, 30s, 5m or 1h (0 for never)`);
  return Math.round(Number(m[1]) * UNITS[m[2]!]!);
}

/** A running watch: its loop, and how to stop it cleanly. */
export interface WatchSession {
  readonly watcher: Watcher;
  readonly client: RuntimeClient;
  /** Stop watching files, finish the cycle in flight (nothing more is sent), close the runtime. */
  stop(reason?: string): Promise<void>;
}

/** Prints events: one line per cycle in text (details indented), one JSON object per line in json. */
export function terminalHost(io: Pick<CliIo, 'stdout'>, format: 'text' | 'json'): WatchHost {
  let lastHeld = '';
  let lastWarnings = '';
  return {
    emit(e: WatchEvent) {
      if (format === 'json') {
        io.stdout.write(`${JSON.stringify(e)}\n`);
        return;
      }
      if (e.type === 'started') io.stdout.write(`${renderStartedText(e)}\n`);
      else if (e.type === 'stopped') io.stdout.write(`${renderStoppedText(e)}\n`);
      else {
        // Held changes and warnings are listed when they change, not on every cycle.
        // Cycles that planned say what is held; cycles that validated a valid tree say its warnings.
        const planned = e.outcome === 'applied' || e.outcome === 'no-changes' || e.outcome === 'refused' || e.outcome === 'cancelled';
        const held = e.held.map((h) => `${h.action} ${h.kind} ${h.id}`).join('\n');
        const showHeld = planned && held !== lastHeld;
        if (showHeld) lastHeld = held;
        const warnings = planned ? (e.diagnostics ?? []).map((d) => `${d.file}:${d.line}:${d.code}:${d.message}`).join('\n') : lastWarnings;
        const showWarnings = warnings !== lastWarnings;
        lastWarnings = warnings;
        io.stdout.write(`${renderCycleText(e, { showHeld, showWarnings })}\n`);
      }
    },
  };
}

/**
 * Start watching `dir`: open the runtime, set up the file (or git) watcher, run the first
 * cycle. Used by the command and, in-process, by tests and the benchmark (with their own host).
 */
export async function startWatch(
  dir: string,
  options: WatchCommandOptions,
  io: Pick<CliIo, 'stdout' | 'env' | 'cwd'> & Partial<Pick<CliIo, 'stderr'>>,
  extra: { readonly host?: WatchHost; readonly scheduler?: Scheduler; readonly fileEvents?: FileEventTuning } = {},
): Promise<WatchSession> {
  const allow = parseAllowDestroy(options.allowDestroy ?? []);
  if (allow.unknown.length) throw new CliError(`--allow-destroy: unknown kind ${allow.unknown.map((u) => `'${u}'`).join(', ')}`);
  const resyncMs = options.resync === undefined ? DEFAULT_RESYNC_MS : parseDuration(options.resync, '--resync');
  const debounceMs = options.debounce === undefined ? DEFAULT_DEBOUNCE_MS : parseDuration(options.debounce, '--debounce');
  const absRoot = path.resolve(io.cwd, dir);
  let source: TreeSource;
  let gitSource: GitHeadSource | undefined;
  if (options.committedOnly) {
    try {
      source = gitSource = new GitHeadSource(dir, { cwd: io.cwd });
    } catch (e) {
      throw new CliError(`--committed-only needs the configuration in a git work tree: ${(e as Error).message}`);
    }
  } else {
    if (!existsSync(absRoot)) throw new CliError(`cannot watch '${dir}': no such file or directory`);
    source = new WorkingTreeSource(dir, { cwd: io.cwd, git: () => gitInfo(dir, io.cwd) });
  }
  const client = await openRuntime(options, io.env, io.cwd);
  const company = companyScope(dir, io.cwd);
  const watcher = new Watcher({
    root: dir,
    ...(company !== undefined ? { company } : {}),
    source,
    client,
    secrets: processSecretSource(io.env, io.cwd, { root: dir, secretsDirs: options.secretsDir ?? [] }),
    host: extra.host ?? terminalHost(io, options.format ?? 'text'),
    allowDestroy: allow.kinds,
    selfHeal: options.selfHeal ?? true,
    resyncMs,
    debounceMs,
    mode: options.committedOnly ? 'committed-only' : 'working-tree',
    ...(extra.scheduler ? { scheduler: extra.scheduler } : {}),
  });
  let files: FSWatcher;
  try {
    files = gitSource ? watchGitHead(gitSource, watcher) : watchTree(absRoot, watcher, extra.fileEvents ?? DEFAULT_FILE_EVENTS);
    // Start the first cycle once the watches are in place: no change can fall in between.
    await new Promise<void>((resolve, reject) => {
      files.once('ready', resolve);
      files.once('error', reject);
    });
  } catch (e) {
    await client.close();
    throw e;
  }
  // A watch error (too many watched files, a folder gone unreadable) is said, and answered
  // with a cycle: the cycle re-reads the whole tree, whatever events were lost.
  files.on('error', (err: unknown) => {
    io.stderr?.write(`switchboard: watching ${dir}: ${(err as Error).message}\n`);
    watcher.notify(gitSource ? { type: 'head' } : { type: 'file', path: absRoot });
  });
  watcher.start();
  let stopping: Promise<void> | undefined;
  return {
    watcher,
    client,
    stop: (reason = 'stopped') =>
      (stopping ??= (async () => {
        await files.close();
        await watcher.stop(reason);
        await client.close();
      })()),
  };
}

function watchTree(absRoot: string, watcher: Watcher, tuning: FileEventTuning): FSWatcher {
  const relative = (p: string) => path.relative(absRoot, p).split(path.sep).join('/');
  // chokidar 5 has no globs: this prunes dot-folders (.git, .switchboard) and node_modules
  // before it descends, and drops files that are not YAML.
  const ignored = (p: string, stats?: Stats) => {
    const rel = relative(p);
    if (rel === '' || rel.startsWith('..')) return false;
    if (rel.split('/').some((s) => s.startsWith('.') || s === 'node_modules')) return true;
    return stats?.isFile() === true && !isConfigPath(rel);
  };
  const w = chokidarWatch(absRoot, {
    ignored,
    ignoreInitial: true,
    atomic: true, // an editor's unlink + add within 100 ms is one change
    awaitWriteFinish: { stabilityThreshold: tuning.stabilityThresholdMs, pollInterval: tuning.pollIntervalMs },
  });
  w.on('all', (event, p) => {
    // Without stats, `ignored` cannot tell a file from a folder: check files again here.
    if ((event === 'add' || event === 'change' || event === 'unlink') && relative(p) !== '' && !isConfigPath(relative(p))) return;
    watcher.notify({ type: 'file', path: p });
  });
  return w;
}

/** --committed-only: watch HEAD (a checkout), the branch refs (a commit, a pull) and packed-refs. */
function watchGitHead(source: GitHeadSource, watcher: Watcher): FSWatcher {
  const { gitDir, commonDir } = source.gitDirs();
  const wanted = (p: string) => {
    for (const base of new Set([gitDir, commonDir])) {
      const rel = path.relative(base, p).split(path.sep);
      if (rel[0] === '..') continue;
      if (rel.length === 1 && (rel[0] === '' || rel[0] === 'HEAD' || rel[0] === 'packed-refs' || rel[0] === 'refs')) return true;
      if (rel[0] === 'refs' && rel[1] === 'heads') return true;
    }
    return false;
  };
  const w = chokidarWatch([...new Set([gitDir, commonDir])], { ignored: (p) => !wanted(p), ignoreInitial: true });
  w.on('all', () => watcher.notify({ type: 'head' }));
  return w;
}

/** The command: watch until SIGINT or SIGTERM, then exit 0 once the cycle in flight is done. */
export async function watchCommand(dir: string, options: WatchCommandOptions, io: CliIo): Promise<number> {
  const session = await startWatch(dir, options, io);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const on = (s: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(s);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
  // A second signal while finishing: leave at once. The runtime applies a change set
  // atomically, so even then nothing is half-applied.
  const force = (s: NodeJS.Signals) => {
    io.stderr.write(`switchboard: ${s} again: exiting without waiting\n`);
    process.exit(130);
  };
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  try {
    await session.stop(signal);
  } finally {
    process.off('SIGINT', force);
    process.off('SIGTERM', force);
  }
  return 0;
}
