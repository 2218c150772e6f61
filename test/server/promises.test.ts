/**
 * Promises of docs/runtime.md ("HTTP API", "Authentication") that no other test proves, each
 * against a real server on loopback. The title of each test quotes or names the promise.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { HEARTBEAT_MS, MAX_UNREAD_EVENTS_BYTES } from '../../src/server/app.js';
import { TokenStore } from '../../src/server/tokens.js';
import { call, readEvents, seed, startServer, type TestServer } from './helpers.js';

let s: TestServer;
let tokens: { alice: string; bob: string; root: string };
const extra: TestServer[] = [];

beforeAll(async () => {
  s = await startServer();
  tokens = seed(s);
});
afterAll(async () => {
  await s?.close();
});
afterEach(async () => {
  for (const t of extra.splice(0)) await t.close().catch(() => undefined);
});

async function another(options: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const t = await startServer(options);
  extra.push(t);
  return t;
}

const user = (id: string, extraBody: Record<string, unknown> = {}) => ({ action: 'create', kind: 'User', id, body: { domain: id.split('/').slice(0, 2).join('/'), username: id.split('/')[2], ...extraBody } });

describe('Conventions', () => {
  it('"the token is checked before the body is read": without a token, bad JSON, a wrong type and an oversized body are all 401', async () => {
    const small = await another({ bodyLimit: 1024 });
    for (const request of [{ rawBody: '{"baseRevision": ' }, { rawBody: 'hello', headers: { 'content-type': 'text/plain' } }, { rawBody: JSON.stringify({ values: ['x'.repeat(4096)] }) }]) {
      const r = await call(small.url, 'POST', '/v1/changesets', { token: null, ...request });
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('unauthorized');
    }
  });

  it('"other body types are 415"', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const r = await call(s.url, 'POST', '/v1/fingerprints', { token: tokens.alice, rawBody: 'values=x', headers: { 'content-type': type } });
      expect(r.status).toBe(415);
      expect(r.body).toEqual({ error: { status: 415, code: 'unsupported-media-type', message: 'send the body as Content-Type: application/json' } });
    }
  });

  it('"The body limit is 64 MiB": one byte more is 413; a body of a few MiB is read', async () => {
    const limit = 64 * 1024 * 1024;
    const over = await call(s.url, 'POST', '/v1/fingerprints', { token: tokens.alice, rawBody: `{"values":["${'x'.repeat(limit - 13)}"]}` });
    expect(over.status).toBe(413);
    expect(over.body.error).toEqual({ status: 413, code: 'payload-too-large', message: `the request body is over the limit of ${limit} bytes` });
    const few = await call(s.url, 'POST', '/v1/fingerprints', { token: tokens.alice, body: { values: ['y'.repeat(5 * 1024 * 1024)] } });
    expect(few.status).toBe(200);
  });

  it('"a 400 listing every problem (up to 10)"', async () => {
    const changes = Array.from({ length: 12 }, (_, i) => ({ action: 'create', kind: 'User', id: `acme/paris/p${i}`, body: {}, [`odd${i}`]: true }));
    const r = await call(s.url, 'POST', '/v1/changesets', { token: tokens.alice, body: { baseRevision: 0, changes, origin: { via: 'plan' } } });
    expect(r.status).toBe(400);
    const message = r.body.error.message as string;
    expect(message.split('; ')).toHaveLength(10);
    expect(message).toMatch(/ \(and 2 more\)$/);
  });

  it('"internal (500; the message only says to look at the server log, where the error is)"', async () => {
    const t = await another();
    await t.runtime.close();
    const r = await call(t.url, 'POST', '/v1/changesets', { token: t.adminToken, body: { baseRevision: 0, changes: [], origin: { via: 'plan' } } });
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ error: { status: 500, code: 'internal', message: 'internal error: see the server log' } });
    const logged = t.logs.lines().find((l) => l.msg === 'request failed');
    expect(JSON.stringify(logged)).toContain('the runtime is closed');
    expect(t.logs.lines().find((l) => l.msg === 'request' && l.status === 500)).toMatchObject({ route: '/v1/changesets' });
  });

  it('refusal statuses: not-found and not-managed are 409, like stale and exists', async () => {
    const missing = await call(s.url, 'POST', '/v1/changesets', { token: tokens.alice, body: { baseRevision: s.runtime.revision(), changes: [{ action: 'update', kind: 'User', id: 'acme/paris/nobody', body: { domain: 'acme/paris', username: 'nobody' } }], origin: { via: 'api' } } });
    expect(missing.status).toBe(409);
    expect(missing.body).toMatchObject({ ok: false, code: 'not-found' });
    const created = await call(s.url, 'POST', '/v1/resources/User', { token: tokens.alice, body: { domain: 'acme/paris', username: 'apiowned' } });
    expect(created.status).toBe(201);
    const before = s.runtime.revision();
    const plan = await call(s.url, 'POST', '/v1/changesets', { token: tokens.alice, body: { baseRevision: before, changes: [{ action: 'update', kind: 'User', id: 'acme/paris/apiowned', body: { domain: 'acme/paris', username: 'apiowned', firstName: 'X' } }], origin: { via: 'plan' } } });
    expect(plan.status).toBe(409);
    expect(plan.body).toMatchObject({ ok: false, code: 'not-managed' });
    expect(s.runtime.revision()).toBe(before);
  });
});

describe('Resources', () => {
  it('POST: 201 with Location and ETag; 409 when it exists', async () => {
    const r = await call(s.url, 'POST', '/v1/resources/User', { token: tokens.alice, body: { domain: 'acme/paris', username: 'res1' } });
    expect(r.status).toBe(201);
    expect(r.headers.get('location')).toBe('/v1/resources/User/acme%2Fparis%2Fres1');
    expect(r.headers.get('etag')).toBe(`"${r.body.revision}"`);
    const again = await call(s.url, 'POST', '/v1/resources/User', { token: tokens.alice, body: { domain: 'acme/paris', username: 'res1' } });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ ok: false, code: 'exists' });
  });

  it('DELETE: 412 on a stale If-Match; a refusal by the runtime with its status (422) and ChangeSetResult', async () => {
    const read = await call(s.url, 'GET', '/v1/resources/User/acme%2Fparis%2Fres1', { token: tokens.alice });
    const stale = await call(s.url, 'DELETE', '/v1/resources/User/acme%2Fparis%2Fres1', { token: tokens.alice, headers: { 'if-match': `"${read.body.revision - 1}"` } });
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('precondition-failed');
    expect(s.runtime.get('User', 'acme/paris/res1')).toBeDefined();
    // The domain still has users: the runtime refuses (unresolved references), nothing deleted.
    const domain = await call(s.url, 'DELETE', '/v1/resources/Domain/acme%2Fparis', { token: tokens.alice });
    expect(domain.status).toBe(422);
    expect(domain.body).toMatchObject({ ok: false, code: 'invalid' });
    expect(domain.body.problems.length).toBeGreaterThan(0);
    expect(s.runtime.get('Domain', 'acme/paris')).toBeDefined();
    const ok = await call(s.url, 'DELETE', '/v1/resources/User/acme%2Fparis%2Fres1', { token: tokens.alice, headers: { 'if-match': read.headers.get('etag')! } });
    expect(ok.status).toBe(200);
  });

  it('"Every write is a one-change change set with via: api and the token\'s administrator as actor" (audit summary as documented)', async () => {
    const put = await call(s.url, 'PUT', '/v1/resources/User/acme%2Fparis%2Fres2', { token: tokens.alice, body: { domain: 'acme/paris', username: 'res2' } });
    expect(put.status).toBe(201);
    const [entry] = s.runtime.audit({ limit: 1 });
    expect(entry).toMatchObject({ actor: 'alice', via: 'api', summary: 'PUT User acme/paris/res2', changes: [{ action: 'create', kind: 'User', id: 'acme/paris/res2' }] });
  });
});

describe('GET /v1/audit', () => {
  it('"limit (1–10,000, default 50)", bad limit, via or sinceRevision 400, secrets as "(sensitive)"', async () => {
    for (let i = 0; i < 55; i++) s.runtime.apply({ baseRevision: s.runtime.revision(), changes: [user(`acme/paris/aud${i}`)] as never, origin: { via: 'plan', actor: 'test' } });
    const all = await call(s.url, 'GET', '/v1/audit', { token: s.adminToken });
    expect(all.body).toHaveLength(50);
    expect(all.body[0].revision).toBe(s.runtime.revision());
    for (const q of ['limit=0', 'limit=10001', 'limit=1.5', 'sinceRevision=-1', 'sinceRevision=x', 'via=mail', 'limit=1&limit=2']) {
      const r = await call(s.url, 'GET', `/v1/audit?${q}`, { token: s.adminToken });
      expect(r.status, q).toBe(400);
      expect(r.body.error.code).toBe('bad-request');
    }
    expect((await call(s.url, 'GET', '/v1/audit?limit=10000', { token: s.adminToken })).status).toBe(200);
    const seedEntry = (await call(s.url, 'GET', '/v1/audit?limit=10000', { token: s.adminToken })).body.find((e: { actor: string }) => e.actor === 'seed');
    const jdoe = seedEntry.changes.find((c: { id: string }) => c.id === 'acme/paris/jdoe');
    expect(jdoe.after.password).toBe('(sensitive)');
  });
});

describe('GET /v1/extensions', () => {
  it('"limit (positive integer; 400 otherwise)"', async () => {
    for (const q of ['limit=0', 'limit=-1', 'limit=abc', 'limit=1.5']) {
      const r = await call(s.url, 'GET', `/v1/extensions?${q}`, { token: tokens.alice });
      expect(r.status, q).toBe(400);
      expect(r.body.error.message).toMatch(/^limit must be a positive integer/);
    }
    expect((await call(s.url, 'GET', '/v1/extensions?limit=1', { token: tokens.alice })).status).toBe(200);
  });
});

describe('GET /v1/events', () => {
  it('"retry: 3000"; data holds ids and actions, "never bodies"', async () => {
    const { events, raw } = await readEvents(s.url, '/v1/events', tokens.alice, (ev) => ev.length >= 1, {
      onConnected: async () => {
        const r = await call(s.url, 'POST', '/v1/changesets', { token: tokens.alice, body: { baseRevision: s.runtime.revision(), changes: [user('acme/paris/ev9', { password: 'Ev-pass-never-sent', firstName: 'Eve' })], origin: { via: 'plan' } } });
        expect(r.status).toBe(200);
      },
    });
    expect(raw.startsWith('retry: 3000\n: connected at revision ')).toBe(true);
    expect(Object.keys(events[0]!.data).sort()).toEqual(['actor', 'at', 'changes', 'revision', 'via']);
    expect(events[0]!.data.changes).toEqual([{ action: 'create', kind: 'User', id: 'acme/paris/ev9', company: 'acme' }]);
    expect(raw).not.toContain('Eve');
    expect(raw).not.toContain('Ev-pass-never-sent');
  });

  it('"if their account is deleted or loses the company, the stream sends event: error and ends"', async () => {
    for (const change of ['narrow', 'delete'] as const) {
      const name = `watcher-${change}`;
      const created = s.runtime.apply({ baseRevision: s.runtime.revision(), changes: [{ action: 'create', kind: 'AdminAccount', id: name, body: { username: name, password: 'Watcher-pass-0001', companies: ['acme'] } }], origin: { via: 'plan', actor: 'test' } });
      expect(created.ok, JSON.stringify(created)).toBe(true);
      const token = s.tokens.create(name).token;
      const { events, raw } = await readEvents(s.url, '/v1/events?company=acme', token, (ev) => ev.some((e) => e.event === 'error'), {
        onConnected: () => {
          const account = s.runtime.get('AdminAccount', name)!;
          const r = s.runtime.apply({
            baseRevision: s.runtime.revision(),
            changes: [change === 'delete' ? { action: 'delete', kind: 'AdminAccount', id: name } : { action: 'update', kind: 'AdminAccount', id: name, body: { ...account.body, companies: ['globex'] } }],
            origin: { via: 'plan', actor: 'test' },
          });
          expect(r.ok).toBe(true);
          // The next event of acme is the one that finds the account changed.
          expect(s.runtime.apply({ baseRevision: s.runtime.revision(), changes: [user(`acme/paris/after-${change}`)] as never, origin: { via: 'plan', actor: 'test' } }).ok).toBe(true);
        },
      });
      expect(events.at(-1)).toEqual({ event: 'error', data: { message: `'${name}' may no longer follow these events` } });
      expect(raw).not.toContain(`after-${change}`);
    }
  });

  it('"A client that stops reading is dropped once 8 MiB of events wait for it" (here with a lower limit)', async () => {
    expect(MAX_UNREAD_EVENTS_BYTES).toBe(8 * 1024 * 1024);
    const t = await another({ maxUnreadEventBytes: 64 * 1024 });
    const { port } = new URL(t.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    let closed = false;
    socket.on('close', () => (closed = true));
    socket.write(`GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.adminToken}\r\n\r\n`);
    await new Promise((r) => socket.once('data', r));
    socket.pause();
    // Events of 500 changes with long ids (~150 KiB each), creating then deleting the same
    // companies, until the kernel's buffers are full and 64 KiB wait in the server.
    const names = Array.from({ length: 500 }, (_, i) => `${'c'.repeat(120)}${i}`);
    for (let batch = 0; batch < 200 && !t.logs.text.includes('event stream dropped'); batch++) {
      const changes = names.map((name) => (batch % 2 === 0 ? { action: 'create' as const, kind: 'Company' as const, id: name, body: { name } } : { action: 'delete' as const, kind: 'Company' as const, id: name }));
      expect(t.runtime.apply({ baseRevision: t.runtime.revision(), changes, origin: { via: 'plan', actor: 'test' } }).ok).toBe(true);
      await new Promise((r) => setImmediate(r));
    }
    const dropped = t.logs.lines().find((l) => l.msg === 'event stream dropped: the client does not read');
    expect(dropped).toMatchObject({ route: '/v1/events', user: 'builtin:admin' });
    expect(dropped!.unread as number).toBeGreaterThan(64 * 1024);
    socket.resume();
    await new Promise((r) => setTimeout(r, 200));
    expect(closed).toBe(true);
    expect((await call(t.url, 'GET', '/healthz')).status).toBe(200);
  });

  it(`"A : heartbeat comment every 15 s" by default`, async () => {
    expect(HEARTBEAT_MS).toBe(15_000);
    const t = await another({ heartbeatMs: HEARTBEAT_MS });
    const started = Date.now();
    const { raw } = await readEvents(t.url, '/v1/events', t.adminToken, (_ev, text) => text.includes(': heartbeat'), { timeoutMs: 20_000 });
    expect(raw).toContain(': heartbeat');
    expect(Date.now() - started).toBeGreaterThanOrEqual(HEARTBEAT_MS - 100);
  }, 25_000);
});

describe('GET /readyz', () => {
  it('"503 {"status": "not-ready", "reason": …}" while an engine is starting', async () => {
    let ready = false;
    const t = await another({ ready: () => ready });
    const r = await call(t.url, 'GET', '/readyz');
    expect(r.status).toBe(503);
    expect(r.body).toEqual({ status: 'not-ready', reason: 'engines are starting' });
    expect((await call(t.url, 'GET', '/healthz')).body).toEqual({ status: 'ok' });
    ready = true;
    expect((await call(t.url, 'GET', '/readyz')).body).toEqual({ status: 'ready' });
  });
});

describe('GET /metrics', () => {
  it('has every metric of the table, process metrics included; route is "the route template, never an id"', async () => {
    const t = await another({ processMetrics: true });
    seed(t);
    expect((await call(t.url, 'GET', '/v1/resources/User/acme%2Fparis%2Fjdoe', { token: t.adminToken })).status).toBe(200);
    expect((await call(t.url, 'POST', '/v1/changesets', { token: t.adminToken, body: { baseRevision: 0, changes: [], origin: { via: 'api' } } })).status).toBe(409);
    const r = await call(t.url, 'GET', '/metrics', { token: t.adminToken });
    expect(r.status).toBe(200);
    for (const name of [
      'switchboard_http_requests_total',
      'switchboard_http_request_duration_seconds_bucket',
      'switchboard_changesets_total',
      'switchboard_revision',
      'switchboard_engine_state',
      'switchboard_engine_restarts',
      'switchboard_pbx_link_connected',
      'switchboard_pbx_link_extensions',
      'switchboard_pbx_link_events',
      'switchboard_process_cpu_seconds_total',
      'switchboard_nodejs_heap_size_used_bytes',
    ]) {
      expect(r.text, name).toMatch(new RegExp(`^${name}[{ ]`, 'm'));
    }
    expect(r.text).toMatch(/switchboard_http_requests_total\{method="GET",route="\/v1\/resources\/:kind\/\*",status="200"\} 1/);
    expect(r.text).toMatch(/switchboard_changesets_total\{outcome="refused",code="stale",via="api"\} 1/);
    expect(r.text).toMatch(/switchboard_pbx_link_extensions\{link="acme\/paris\/pbx",supervision="wanted"\}/);
    expect(r.text).not.toContain('jdoe');
  });
});

describe('Tokens', () => {
  it('"sbt_ followed by 32 random bytes in base64url"; its id is the first 16 hex digits of its SHA-256; the store never holds it', async () => {
    const r = await call(s.url, 'POST', '/v1/tokens', { token: s.adminToken, body: { username: 'alice' } });
    expect(r.status).toBe(201);
    const token = r.body.token as string;
    expect(token).toMatch(/^sbt_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token.slice(4), 'base64url')).toHaveLength(32);
    expect(r.body.id).toBe(createHash('sha256').update(token).digest('hex').slice(0, 16));
    // Every file of the data directory but admin.token (which holds the super-admin token by design).
    await new Promise((done) => setTimeout(done, 100));
    for (const f of readdirSync(s.dataDir).filter((f) => f !== 'admin.token')) {
      const bytes = readFileSync(path.join(s.dataDir, f));
      expect(bytes.includes(token.slice(4)), f).toBe(false);
    }
  });

  it('"No token: 401 missing bearer token"', async () => {
    const r = await call(s.url, 'GET', '/v1/state');
    expect(r.body.error.message).toBe('missing bearer token: send "Authorization: Bearer <token>" (the super-admin token is in <data-dir>/admin.token)');
  });

  it('"audit entries name its actor builtin:admin"', async () => {
    const r = await call(s.url, 'POST', '/v1/resources/User', { token: s.adminToken, body: { domain: 'acme/paris', username: 'byadmin' } });
    expect(r.status).toBe(201);
    expect(s.runtime.audit({ limit: 1 })[0]).toMatchObject({ actor: 'builtin:admin', via: 'api' });
    expect(r.body.updatedBy).toBe('builtin:admin');
  });

  it('"To rotate it, delete the file and restart serve: every older built-in token is revoked and a new one written"', async () => {
    const t = await another();
    const old = t.adminToken;
    expect((await call(t.url, 'GET', '/v1/state', { token: old })).status).toBe(200);
    const file = path.join(t.dataDir, 'admin.token');
    const kept = TokenStore.open(t.dataDir);
    try {
      expect(kept.ensureAdminToken(t.dataDir)).toMatchObject({ created: false, token: old });
      rmSync(file);
      const rotated = kept.ensureAdminToken(t.dataDir);
      expect(rotated.created).toBe(true);
      expect(rotated.token).not.toBe(old);
      expect(readFileSync(file, 'utf8').trim()).toBe(rotated.token);
      expect((await call(t.url, 'GET', '/v1/state', { token: old })).status).toBe(401);
      expect((await call(t.url, 'GET', '/v1/state', { token: rotated.token })).status).toBe(200);
      expect(kept.list().filter((x) => x.builtIn)).toHaveLength(1);
    } finally {
      kept.close();
    }
  });
});

describe('Logs', () => {
  it('"They never contain a request or response body, a header" (nor a token): one line per request with method, route, path, status, ms, user', async () => {
    const marker = 'Unmistakable-Body-Marker-51';
    const header = 'Unmistakable-Header-Marker-77';
    const r = await call(s.url, 'POST', '/v1/resources/User', { token: tokens.alice, body: { domain: 'acme/paris', username: 'logged', firstName: marker }, headers: { 'x-custom': header } });
    expect(r.status).toBe(201);
    const bad = await call(s.url, 'POST', '/v1/changesets', { token: tokens.alice, rawBody: `{"x": "${marker}"`, headers: { 'x-custom': header } });
    expect(bad.status).toBe(400);
    expect(s.logs.text).not.toContain(marker);
    expect(s.logs.text).not.toContain(header);
    const line = s.logs.lines().find((l) => l.msg === 'request' && l.route === '/v1/resources/:kind' && l.status === 201 && l.user === 'alice');
    expect(line).toMatchObject({ method: 'POST', path: '/v1/resources/User', status: 201, user: 'alice' });
    expect(typeof line!.ms).toBe('number');
    expect(s.logs.lines().some((l) => l.msg === 'change set applied' && l.user === 'alice')).toBe(true);
    expect(s.logs.lines().some((l) => l.msg === 'change set refused')).toBe(true);
  });
});

describe('Stopping', () => {
  it('"stops accepting requests, ends the event streams, lets the requests in flight finish"; new requests on open connections get fastify\'s own 503', async () => {
    const t = await another();
    const { port } = new URL(t.url);
    const body = JSON.stringify({ baseRevision: 0, changes: [{ action: 'create', kind: 'Company', id: 'inflight', body: { name: 'inflight' } }], origin: { via: 'plan' } });
    const socket = net.connect(Number(port), '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    let answers = '';
    socket.on('data', (d: Buffer) => (answers += d.toString()));
    const socketClosed = new Promise((r) => socket.once('close', r));
    const half = Math.floor(body.length / 2);
    socket.write(`POST /v1/changesets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.adminToken}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, half)}`);
    const stream = readEvents(t.url, '/v1/events', t.adminToken, () => false, { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 200));

    const closed = t.server.close();
    await new Promise((r) => setTimeout(r, 50));
    await expect(call(t.url, 'GET', '/healthz')).rejects.toThrow();
    // The rest of the request in flight, and a second request behind it on the same connection.
    socket.write(`${body.slice(half)}GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n`);
    await closed;
    await socketClosed;
    expect(answers).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\{"ok":true,"revision":1,"applied":1\}HTTP\/1\.1 503 Service Unavailable\r\n[\s\S]*\{"error":"Service Unavailable","message":"Service Unavailable","statusCode":503\}$/);
    expect(t.runtime.get('Company', 'inflight')).toBeDefined();
    const { raw } = await stream;
    expect(raw.endsWith(': server shutting down\n\n')).toBe(true);
  });
});
