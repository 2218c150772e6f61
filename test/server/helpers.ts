/**
 * A real API server for tests: a Runtime over a fresh SQLite store in a temp dir, the token
 * store, fastify listening on 127.0.0.1 with a free port, and every log line captured.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Runtime } from '../../src/runtime/runtime.js';
import type { Change } from '../../src/runtime/types.js';
import { createApiServer, type ApiServer } from '../../src/server/app.js';
import type { RateLimits } from '../../src/server/rate-limit.js';
import { createLogger } from '../../src/server/serve.js';
import { TokenStore } from '../../src/server/tokens.js';

export class LogCapture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
  lines(): Record<string, unknown>[] {
    return this.text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

export interface TestServer {
  readonly url: string;
  readonly dataDir: string;
  readonly runtime: Runtime;
  readonly tokens: TokenStore;
  readonly server: ApiServer;
  readonly adminToken: string;
  readonly logs: LogCapture;
  close(): Promise<void>;
}

export function tempDataDir(): string {
  return path.join(mkdtempSync(path.join(tmpdir(), 'switchboard-server-')), '.switchboard');
}

/**
 * Limits no test reaches unless it means to: the auth matrix alone sends dozens of bad tokens
 * from 127.0.0.1 within a second. test/server/rate-limit.test.ts sets low ones; the child
 * process tests of serve.test.ts run with the defaults.
 */
export const UNREACHED_RATE_LIMITS: Partial<RateLimits> = {
  perToken: 1e9,
  perAddress: 1e9,
  authFailures: 1e9,
  fingerprintRequests: 1e9,
  fingerprintValues: 1e9,
  tokenCreations: 1e9,
};

export async function startServer(
  options: { dataDir?: string; bodyLimit?: number; heartbeatMs?: number; rateLimits?: Partial<RateLimits>; maxUnreadEventBytes?: number; processMetrics?: boolean; ready?: () => boolean; host?: string } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? tempDataDir();
  const logs = new LogCapture();
  const logger = createLogger(logs, 'debug');
  const runtime = await Runtime.open(dataDir, { log: logger, pollIntervalMs: 50 });
  const tokens = TokenStore.open(dataDir);
  const { token: adminToken } = tokens.ensureAdminToken(dataDir);
  const server = await createApiServer({
    runtime,
    tokens,
    logger,
    processMetrics: options.processMetrics ?? false,
    heartbeatMs: options.heartbeatMs ?? 100,
    bodyLimit: options.bodyLimit,
    rateLimits: options.rateLimits ?? UNREACHED_RATE_LIMITS,
    maxUnreadEventBytes: options.maxUnreadEventBytes,
    ready: options.ready,
  });
  const url = await server.listen(options.host ?? '127.0.0.1', 0);
  return {
    url,
    dataDir,
    runtime,
    tokens,
    server,
    adminToken,
    logs,
    async close() {
      await server.close();
      tokens.close();
      await runtime.close();
    },
  };
}

/** Clear secret values used by {@link seed}: none may ever come back out. */
export const SECRETS = {
  jdoe: 'Jd0e-clear-pass-7781',
  hans: 'H4ns-clear-pass-9902',
  alice: 'Al1ce-admin-pass-3310',
  bob: 'B0b-admin-pass-5521',
  root: 'R00t-admin-pass-1177',
  link: 'L1nk-csta-pass-6604',
} as const;

/**
 * Two companies (acme, globex), a domain and a user each, a CSTA link in acme, and three
 * administrators: alice (acme), bob (globex), root (super user). Returns their tokens.
 */
export function seed(s: TestServer): { alice: string; bob: string; root: string } {
  const changes: Change[] = [
    { action: 'create', kind: 'Company', id: 'acme', body: { name: 'acme' } },
    { action: 'create', kind: 'Company', id: 'globex', body: { name: 'globex' } },
    { action: 'create', kind: 'Domain', id: 'acme/paris', body: { company: 'acme', name: 'paris', internalLength: 4 } },
    { action: 'create', kind: 'Domain', id: 'globex/berlin', body: { company: 'globex', name: 'berlin', internalLength: 4 } },
    {
      action: 'create',
      kind: 'PbxLink',
      id: 'acme/paris/pbx',
      body: { domain: 'acme/paris', name: 'pbx', protocol: 'csta', ip: '192.0.2.10', port: 3211, pbxType: 'A5000', username: 'tws', password: SECRETS.link },
    },
    { action: 'create', kind: 'User', id: 'acme/paris/jdoe', body: { domain: 'acme/paris', username: 'jdoe', firstName: 'John', password: SECRETS.jdoe } },
    { action: 'create', kind: 'User', id: 'globex/berlin/hans', body: { domain: 'globex/berlin', username: 'hans', firstName: 'Hans', password: SECRETS.hans } },
    { action: 'create', kind: 'AdminAccount', id: 'alice', body: { username: 'alice', password: SECRETS.alice, companies: ['acme'] } },
    { action: 'create', kind: 'AdminAccount', id: 'bob', body: { username: 'bob', password: SECRETS.bob, companies: ['globex'] } },
    { action: 'create', kind: 'AdminAccount', id: 'root', body: { username: 'root', password: SECRETS.root, superUser: true } },
  ];
  const result = s.runtime.apply({ baseRevision: s.runtime.revision(), changes, origin: { via: 'plan', actor: 'seed' } });
  if (!result.ok) throw new Error(`seed refused: ${result.message}\n${JSON.stringify(result.problems, null, 2)}`);
  return { alice: s.tokens.create('alice').token, bob: s.tokens.create('bob').token, root: s.tokens.create('root').token };
}

export interface Reply {
  readonly status: number;
  readonly text: string;
  readonly body: any;
  readonly headers: Headers;
}

/** One HTTP request; `token: null` sends no Authorization header. */
export async function call(url: string, method: string, path: string, options: { token?: string | null; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  const r = await fetch(url + path, { method, headers, body });
  const text = await r.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: r.status, text, body: parsed, headers: r.headers };
}

/** Read server-sent events until `until` returns true or the time runs out. */
export async function readEvents(
  url: string,
  path: string,
  token: string,
  until: (events: { event?: string; id?: string; data: any }[], raw: string) => boolean,
  options: { timeoutMs?: number; onConnected?: () => void | Promise<void> } = {},
): Promise<{ status: number; events: { event?: string; id?: string; data: any }[]; raw: string }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 5000);
  let connected = false;
  const events: { event?: string; id?: string; data: any }[] = [];
  let raw = '';
  try {
    const r = await fetch(url + path, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
    if (r.status !== 200 || !r.body) return { status: r.status, events, raw: await r.text() };
    const decoder = new TextDecoder();
    for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
      raw += decoder.decode(chunk, { stream: true });
      if (!connected && raw.includes(': connected')) {
        connected = true;
        await options.onConnected?.();
      }
      events.length = 0;
      for (const block of raw.split('\n\n').slice(0, -1)) {
        const e: { event?: string; id?: string; data?: string } = {};
        for (const line of block.split('\n')) {
          if (line.startsWith('data: ')) e.data = (e.data ?? '') + line.slice(6);
          else if (line.startsWith('event: ')) e.event = line.slice(7);
          else if (line.startsWith('id: ')) e.id = line.slice(4);
        }
        if (e.data !== undefined) events.push({ ...e, data: JSON.parse(e.data) });
      }
      if (until(events, raw)) break;
    }
    return { status: r.status, events, raw };
  } catch (e) {
    if (controller.signal.aborted) return { status: 200, events, raw };
    throw e;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}
