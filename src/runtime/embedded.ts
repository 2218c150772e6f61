/**
 * The embedded runtime: without any server, the CLI opens the store in-process from
 * `./.switchboard/` (created on first use with a `.gitignore` of `*`, so it is never
 * committed) and talks to it through the same {@link RuntimeClient} interface as the HTTP
 * client. It acts as the super user `local` and does not start engines (they belong to the
 * long-running `switchboard serve`; they still answer `impact`).
 *
 * Also here: the lock that keeps two `serve` processes off one data directory. The embedded
 * client does not take it: SQLite serializes writers, and optimistic concurrency (stale
 * change sets) keeps a CLI apply beside a running server correct.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { LOCAL_PRINCIPAL, Runtime, type RuntimeOptions } from './runtime.js';
import type { RuntimeClient } from './types.js';

export const DEFAULT_DATA_DIR = '.switchboard';

/** Open the embedded runtime (default `./.switchboard`, relative to `cwd`). */
export async function openEmbedded(dir: string = DEFAULT_DATA_DIR, options: { readonly cwd?: string } & Pick<RuntimeOptions, 'log' | 'engines'> = {}): Promise<RuntimeClient & { readonly runtime: Runtime }> {
  const dataDir = path.resolve(options.cwd ?? process.cwd(), dir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const ignore = path.join(dataDir, '.gitignore');
  if (!existsSync(ignore)) writeFileSync(ignore, '# Switchboard runtime data (store, secret key): never commit it.\n*\n');
  const runtime = await Runtime.open(dataDir, { startEngines: false, ...(options.log ? { log: options.log } : {}), ...(options.engines ? { engines: options.engines } : {}) });
  return {
    runtime,
    location: `embedded:${dir}`,
    state: async (filter) => runtime.state({ ...(filter?.company !== undefined ? { company: filter.company } : {}) }),
    fingerprint: async (values) => runtime.fingerprint(values),
    apply: async (changeSet) => runtime.apply(changeSet, LOCAL_PRINCIPAL),
    impact: async (changes) => runtime.impact(changes),
    audit: async (query) => runtime.audit(query ?? {}),
    status: async () => runtime.status(),
    links: async () => runtime.links(),
    licences: async (filter) => runtime.licences({ ...(filter?.company !== undefined ? { company: filter.company } : {}) }),
    extensions: async (query) => runtime.extensions(query ?? {}),
    close: () => runtime.close(),
  };
}

export const SERVE_LOCK = 'serve.lock';

/** Refusal to start a second `serve` on one data directory. */
export class ServeLockError extends Error {
  readonly pid: number;
  constructor(readonly lockFile: string, pid: number) {
    super(`another switchboard serve (PID ${pid}) is running on ${path.dirname(lockFile)}: stop it first, or use another --data-dir (lock file ${lockFile})`);
    this.name = 'ServeLockError';
    this.pid = pid;
  }
}

export interface ServeLock {
  readonly file: string;
  /** Remove the lock (only if it is still ours). */
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Take the serve lock of `dataDir`: a file holding this process's PID, created exclusively.
 * A lock left by a process that is gone is taken over; one held by a live process is refused
 * with a {@link ServeLockError} naming its PID.
 */
export function acquireServeLock(dataDir: string): ServeLock {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(path.resolve(dataDir), SERVE_LOCK);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      // Two processes taking over one stale lock: the last writer wins, the other sees it here.
      const holder = readPid(file);
      if (holder !== process.pid) {
        if (holder !== undefined && alive(holder)) throw new ServeLockError(file, holder);
        continue;
      }
      return {
        file,
        release: () => {
          if (readPid(file) === process.pid) unlinkSync(file);
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = readPid(file);
      if (holder !== undefined && alive(holder)) throw new ServeLockError(file, holder);
      // Stale (dead PID or unreadable): take it over.
      try {
        unlinkSync(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }
  const holder = readPid(file);
  throw new ServeLockError(file, holder ?? -1);
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The PID of the live `switchboard serve` holding `dataDir`'s lock, if any. */
export function serveHolder(dataDir: string): number | undefined {
  const pid = readPid(path.join(path.resolve(dataDir), SERVE_LOCK));
  return pid !== undefined && alive(pid) ? pid : undefined;
}
