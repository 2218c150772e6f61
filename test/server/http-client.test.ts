/** The HTTP RuntimeClient against a real server: a round trip, refusals as results, failures as clear errors. */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import http from 'node:http';
import { connectRuntime, RuntimeHttpError } from '../../src/runtime/http-client.js';
import type { RuntimeClient } from '../../src/runtime/types.js';
import { seed, startServer, type TestServer } from './helpers.js';

let s: TestServer;
let tokens: { alice: string; bob: string; root: string };
let client: RuntimeClient;

beforeAll(async () => {
  s = await startServer();
  tokens = seed(s);
  client = await connectRuntime(`${s.url}/`, tokens.alice);
});
afterAll(async () => {
  await client?.close();
  await s?.close();
});

describe('connectRuntime', () => {
  it('round trip: state → apply → state, as the embedded runtime would answer', async () => {
    expect(client.location).toBe(s.url);
    const before = await client.state({ company: 'acme' });
    expect(before.revision).toBe(s.runtime.revision());
    const result = await client.apply({
      baseRevision: before.revision,
      changes: [{ action: 'create', kind: 'User', id: 'acme/paris/http1', body: { domain: 'acme/paris', username: 'http1', password: 'Http-client-pass-1' } }],
      origin: { via: 'plan', summary: 'from the client' },
    });
    expect(result).toEqual({ ok: true, revision: before.revision + 1, applied: 1 });
    const after = await client.state({ company: 'acme' });
    expect(after.revision).toBe(before.revision + 1);
    const created = after.resources.find((r) => r.id === 'acme/paris/http1');
    expect(created).toMatchObject({ kind: 'User', manager: 'config', updatedBy: 'alice' });
    const [fp] = await client.fingerprint(['Http-client-pass-1']);
    expect(created!.body.password).toEqual({ $secret: fp });
    expect(after).toEqual(s.runtime.state({ company: 'acme', principal: { username: 'alice', superUser: false, companies: ['acme'] } }));
  });

  it('returns refusals as ChangeSetResults: stale (409), invalid (422), forbidden (403)', async () => {
    const rev = s.runtime.revision();
    const stale = await client.apply({ baseRevision: rev - 1, changes: [], origin: { via: 'plan' } });
    expect(stale).toMatchObject({ ok: false, code: 'stale', revision: rev });
    const invalid = await client.apply({ baseRevision: rev, changes: [{ action: 'create', kind: 'User', id: 'acme/paris/bad', body: { domain: 'acme/paris', username: 'bad', nope: 1 } }], origin: { via: 'plan' } });
    expect(invalid).toMatchObject({ ok: false, code: 'invalid' });
    if (!invalid.ok) expect(invalid.problems.length).toBeGreaterThan(0);
    const forbidden = await client.apply({ baseRevision: rev, changes: [{ action: 'delete', kind: 'User', id: 'globex/berlin/hans' }], origin: { via: 'plan' } });
    expect(forbidden).toMatchObject({ ok: false, code: 'forbidden' });
    expect(s.runtime.revision()).toBe(rev);
  });

  it('reads audit, status and impact', async () => {
    const audit = await client.audit({ limit: 1, via: 'plan' });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: 'alice', via: 'plan', summary: 'from the client' });
    expect(await client.status()).toEqual(s.runtime.status({ username: 'alice', superUser: false, companies: ['acme'] }));
    const impact = await client.impact([{ action: 'delete', kind: 'User', id: 'acme/paris/http1' }]);
    expect(impact).toEqual(s.runtime.impact([{ action: 'delete', kind: 'User', id: 'acme/paris/http1' }]));
  });

  it('throws "refused the token" for a bad token, naming the URL and never the token', async () => {
    const bad = await connectRuntime(s.url, 'sbt_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB');
    const e = await bad.state().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RuntimeHttpError);
    expect((e as Error).name).toBe('RuntimeError');
    expect((e as Error).message).toBe(`runtime at ${s.url} refused the token: invalid token: unknown or revoked token`);
    expect((e as RuntimeHttpError).status).toBe(401);
  });

  it('throws a clear error for a forbidden read', async () => {
    await expect(client.state({ company: 'globex' })).rejects.toThrow(`runtime at ${s.url} refused GET /v1/state: 'alice' may not read the state of company 'globex'`);
  });

  it('refuses to connect without a token or with a bad URL', async () => {
    await expect(connectRuntime(s.url, '')).rejects.toThrow(/needs a token: set SWITCHBOARD_TOKEN/);
    await expect(connectRuntime('127.0.0.1:7480', 'x')).rejects.toThrow(/not an http:\/\/ or https:\/\/ URL|not a runtime URL/);
  });

  it('says when nothing listens there', async () => {
    const server = http.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((r) => server.close(() => r()));
    const c = await connectRuntime(`http://127.0.0.1:${port}`, tokens.alice);
    await expect(c.state()).rejects.toThrow(`cannot reach the runtime at http://127.0.0.1:${port}: ECONNREFUSED (is \`switchboard serve\` running there?)`);
  });

  it('times out', async () => {
    const server = http.createServer(() => {
      // never answers
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const c = await connectRuntime(`http://127.0.0.1:${port}`, tokens.alice, { timeoutMs: 200 });
      await expect(c.status()).rejects.toThrow(`runtime at http://127.0.0.1:${port} timed out after 0.2 s (GET /v1/status)`);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('says when the answer is not from a Switchboard runtime', async () => {
    const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hello</html>'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const c = await connectRuntime(`http://127.0.0.1:${port}`, tokens.alice);
      await expect(c.status()).rejects.toThrow(/is this a Switchboard runtime\?/);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it.each([
    ['arrays', 20_000, (d: number) => '['.repeat(d) + ']'.repeat(d)],
    ['arrays', 100_000, (d: number) => '['.repeat(d) + ']'.repeat(d)],
    ['objects', 20_000, (d: number) => '{"a":'.repeat(d) + '1' + '}'.repeat(d)],
    ['objects', 100_000, (d: number) => '{"error":{"message":'.repeat(d) + '"x"' + '}}'.repeat(d)],
  ] as const)('refuses an answer of %s nested %i deep from a hostile server, without a RangeError', async (_shape, depth, text) => {
    const body = text(depth);
    for (const status of [200, 409, 500]) {
      const server = http.createServer((_req, res) => res.writeHead(status, { 'content-type': 'application/json' }).end(body));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as { port: number }).port;
      try {
        const c = await connectRuntime(`http://127.0.0.1:${port}`, tokens.alice);
        for (const call of [() => c.state(), () => c.status(), () => c.apply({ baseRevision: 0, changes: [], origin: { via: 'plan' } })]) {
          const e = await call().catch((x: unknown) => x);
          expect(e).toBeInstanceOf(RuntimeHttpError);
          expect((e as Error).message).toMatch(new RegExp(`^runtime at http://127\\.0\\.0\\.1:${port} answered (GET|POST) /v1/\\w+ with HTTP ${status} and JSON nested more than 128 levels deep \\(at .*…\\): is this a Switchboard runtime\\?$`));
        }
        await c.close();
      } finally {
        await new Promise<void>((r) => server.close(() => r()));
      }
    }
  });

  it('refuses to send a change set nested deeper than the server accepts, saying where', async () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const e = await client.apply({ baseRevision: 0, changes: [{ action: 'create', kind: 'User', id: 'acme/paris/d', body: { domain: 'acme/paris', username: 'd', firstName: deep } }], origin: { via: 'plan' } }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RuntimeHttpError);
    expect((e as Error).message).toBe(`cannot send POST /v1/changesets to the runtime at ${s.url}: the request nests more than 64 levels deep (at changes/0/body/firstName/0/0/0/0/…); no resource does`);
    // Just under the server's limit, it reaches the server, which judges the resource.
    let near: unknown = 'x';
    for (let i = 0; i < 60; i++) near = [near];
    const refused = await client.apply({ baseRevision: s.runtime.revision(), changes: [{ action: 'create', kind: 'User', id: 'acme/paris/d', body: { domain: 'acme/paris', username: 'd', firstName: near } }], origin: { via: 'plan' } });
    expect(refused).toMatchObject({ ok: false, code: 'invalid' });
  });

  it('"Requests time out after 60 s, change sets after 10 minutes" by default', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      // A fetch that answers only by failing when aborted: the client's own timer decides.
      const hanging: typeof fetch = (_url, init) => new Promise((_resolve, reject) => init!.signal!.addEventListener('abort', () => reject(init!.signal!.reason)));
      const c = await connectRuntime('http://127.0.0.1:9', 'sbt_x', { fetch: hanging });
      for (const [call, ms, what] of [
        [() => c.state(), 60_000, 'GET /v1/state'],
        [() => c.apply({ baseRevision: 0, changes: [], origin: { via: 'plan' } }), 600_000, 'POST /v1/changesets'],
      ] as const) {
        let outcome: unknown;
        const p = call().then(
          () => (outcome = 'answered'),
          (e: unknown) => (outcome = e),
        );
        await vi.advanceTimersByTimeAsync(ms - 1);
        expect(outcome).toBeUndefined();
        await vi.advanceTimersByTimeAsync(1);
        await p;
        expect(outcome).toBeInstanceOf(RuntimeHttpError);
        expect((outcome as Error).message).toBe(`runtime at http://127.0.0.1:9 timed out after ${ms / 1000} s (${what})`);
      }
    } finally {
      vi.useRealTimers();
    }
  });
});
