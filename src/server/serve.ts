/**
 * `switchboard serve`: the runtime of a data directory behind its HTTP API, until SIGTERM or
 * SIGINT.
 *
 * Start: take the data directory's serve lock (a second `serve` on it is refused), open the
 * runtime (store, engines restored from it), make sure `<data-dir>/admin.token` holds a valid
 * super-admin token, listen. Stop (first signal): refuse new requests (503), end event
 * streams, let the request in flight finish (a change set is applied inside one request),
 * stop the engines and close the store, release the lock, exit 0. A second signal exits 1 at
 * once.
 *
 * Logs are JSON lines (pino) on stdout; nothing else is printed there.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import pino, { type DestinationStream, type Logger } from 'pino';
import { acquireServeLock, DEFAULT_DATA_DIR } from '../runtime/embedded.js';
import { Runtime } from '../runtime/runtime.js';
import { createApiServer } from './app.js';
import { parseRateLimits, type RateLimits } from './rate-limit.js';
import { TokenStore } from './tokens.js';

export { DEFAULT_DATA_DIR };
export const DEFAULT_LISTEN = '127.0.0.1:7480';

export interface ServeOptions {
  readonly dataDir: string;
  /** The folder CSV directories read their files from (default DATA_DIR/files). */
  readonly filesDir?: string;
  readonly listen: string;
  /** `--rate-limit NAME=N` values (see {@link parseRateLimits}); limits not named keep their defaults. */
  readonly rateLimit?: readonly string[];
}

export interface ServeIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly cwd: string;
}

/** `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (127.0.0.1). */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`--listen must be HOST:PORT (e.g. 127.0.0.1:7480 or [::1]:7480), not '${listen}'`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

/** The server's logger: JSON lines, ISO times, and redaction of anything shaped like a credential. */
export function createLogger(destination: DestinationStream | NodeJS.WritableStream, level = 'info'): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['authorization', 'token', '*.authorization', '*.token', 'req.headers', 'headers', 'body', '*.body', 'password', '*.password'], censor: '(redacted)' },
    },
    destination as DestinationStream,
  );
}

/**
 * Run the server until a signal stops it; resolves to the exit code. Only startup problems
 * are written to stderr (as one line each); everything else is a log line.
 */
export async function serve(options: ServeOptions, io: ServeIo): Promise<number> {
  let listen: { host: string; port: number };
  let rateLimits: Partial<RateLimits>;
  try {
    listen = parseListen(options.listen);
    rateLimits = parseRateLimits(options.rateLimit ?? []);
  } catch (e) {
    io.stderr.write(`switchboard: ${(e as Error).message}\n`);
    return 2;
  }
  const dataDir = path.resolve(io.cwd, options.dataDir);
  const logger = createLogger(io.stdout === process.stdout ? pino.destination({ dest: 1, sync: true }) : io.stdout);

  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  let lock: { release(): void };
  try {
    lock = acquireServeLock(dataDir);
  } catch (e) {
    io.stderr.write(`switchboard: ${(e as Error).message}\n`);
    logger.error({ dataDir }, (e as Error).message);
    return 1;
  }

  let runtime: Runtime;
  try {
    runtime = await Runtime.open(dataDir, { log: logger, ...(options.filesDir ? { filesDir: path.resolve(io.cwd, options.filesDir) } : {}) });
  } catch (e) {
    lock.release();
    io.stderr.write(`switchboard: cannot open the runtime in ${dataDir}: ${(e as Error).message}\n`);
    logger.error({ dataDir, err: (e as Error).message }, 'cannot open the runtime');
    return 1;
  }

  const tokens = TokenStore.open(dataDir);
  const admin = tokens.ensureAdminToken(dataDir);
  logger.info({ file: admin.file }, admin.created ? 'wrote a new super-admin token (mode 0600): read it from this file' : 'super-admin token kept in this file');

  const server = await createApiServer({ runtime, tokens, logger, rateLimits });
  let url: string;
  try {
    url = await server.listen(listen.host, listen.port);
  } catch (e) {
    io.stderr.write(`switchboard: cannot listen on ${options.listen}: ${(e as Error).message}\n`);
    logger.error({ listen: options.listen, err: (e as Error).message }, 'cannot listen');
    await server.close().catch(() => undefined);
    tokens.close();
    await runtime.close();
    lock.release();
    return 1;
  }
  logger.info({ url, dataDir, filesDir: runtime.filesDir, revision: runtime.revision(), rateLimits: server.rateLimits }, 'serving');

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting at once');
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, 'shutting down: finishing requests in flight');
      void (async () => {
        let code = 0;
        try {
          await server.close();
          tokens.close();
          await runtime.close();
        } catch (e) {
          code = 1;
          logger.error({ err: (e as Error).message }, 'error while shutting down');
        } finally {
          lock.release();
        }
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        logger.info({ code }, 'stopped');
        resolve(code);
      })();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
