/**
 * The rate limits of docs/runtime.md ("Rate limits"), against real servers on loopback with
 * low limits (and one with the defaults): 429 with Retry-After and the error body, per token,
 * per address, after failed authentications, stricter on fingerprints (requests and values)
 * and token creation; probes never limited; a request without a valid token still learns
 * nothing; windows end.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_RATE_LIMITS, parseRateLimits, resolveRateLimits, ValueBudget, type RateLimits } from '../../src/server/rate-limit.js';
import { call, seed, startServer, UNREACHED_RATE_LIMITS, type Reply, type TestServer } from './helpers.js';

const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function serverWith(limits: Partial<RateLimits>): Promise<{ s: TestServer; tokens: { alice: string; bob: string; root: string } }> {
  const s = await startServer({ rateLimits: { ...UNREACHED_RATE_LIMITS, ...limits } });
  servers.push(s);
  return { s, tokens: seed(s) };
}

const BAD_TOKEN = 'sbt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

/** A 429 in the project's error shape, with Retry-After in 1..window seconds. */
function expectTooMany(r: Reply, message: RegExp, windowS = 60): void {
  expect(r.status, r.text).toBe(429);
  expect(r.body).toEqual({ error: { status: 429, code: 'too-many-requests', message: expect.stringMatching(message) } });
  const retry = Number(r.headers.get('retry-after'));
  expect(Number.isInteger(retry)).toBe(true);
  expect(retry).toBeGreaterThanOrEqual(1);
  expect(retry).toBeLessThanOrEqual(windowS);
  expect(r.body.error.message).toMatch(new RegExp(`retry in ${retry} s$`));
}

describe('per token and per address', () => {
  it('refuses a token over its limit with 429 and Retry-After; other tokens go on', async () => {
    const { s, tokens } = await serverWith({ perToken: 5 });
    for (let i = 0; i < 5; i++) expect((await call(s.url, 'GET', '/v1/state', { token: tokens.alice })).status).toBe(200);
    const r = await call(s.url, 'GET', '/v1/state', { token: tokens.alice });
    expectTooMany(r, /^too many requests with token [0-9a-f]{16} of 'alice': at most 5 a minute; retry in \d+ s$/);
    expect(r.text).not.toContain(tokens.alice.slice(4));
    // Every route counts, unknown ones included (they are answered only after the limits).
    expect((await call(s.url, 'GET', '/v1/nothing-here', { token: tokens.alice })).status).toBe(429);
    expect((await call(s.url, 'GET', '/v1/state', { token: tokens.bob })).status).toBe(200);
    expect((await call(s.url, 'GET', '/v1/state', { token: s.adminToken })).status).toBe(200);
  });

  it('refuses an address over its limit, whatever token it uses', async () => {
    const { s, tokens } = await serverWith({ perAddress: 4 });
    for (const t of [tokens.alice, tokens.bob, tokens.root, s.adminToken]) expect((await call(s.url, 'GET', '/v1/status', { token: t })).status).toBe(200);
    expectTooMany(await call(s.url, 'GET', '/v1/status', { token: tokens.alice }), /^too many requests from 127\.0\.0\.1: at most 4 a minute/);
    expectTooMany(await call(s.url, 'GET', '/v1/status', { token: tokens.bob }), /^too many requests from 127\.0\.0\.1/);
  });

  it('a request without a valid token is still refused 401 first, even from an address over its limit', async () => {
    const { s, tokens } = await serverWith({ perAddress: 2 });
    await call(s.url, 'GET', '/v1/state', { token: tokens.alice });
    await call(s.url, 'GET', '/v1/state', { token: tokens.alice });
    expect((await call(s.url, 'GET', '/v1/state', { token: tokens.alice })).status).toBe(429);
    for (const token of [null, BAD_TOKEN]) {
      const r = await call(s.url, 'GET', '/v1/nothing-here', { token });
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('unauthorized');
      expect(r.headers.get('retry-after')).toBeNull();
    }
  });

  it('counts IPv6 clients by their /64', async () => {
    const s = await startServer({ host: '::1', rateLimits: { ...UNREACHED_RATE_LIMITS, perAddress: 2 } });
    servers.push(s);
    expect(s.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
    await call(s.url, 'GET', '/v1/state', { token: s.adminToken });
    await call(s.url, 'GET', '/v1/state', { token: s.adminToken });
    expectTooMany(await call(s.url, 'GET', '/v1/state', { token: s.adminToken }), /^too many requests from ::\/64: at most 2 a minute/);
  });

  it('counts in windows: once the window ends, requests pass again', async () => {
    const { s, tokens } = await serverWith({ perToken: 2, windowMs: 1000 });
    await call(s.url, 'GET', '/v1/state', { token: tokens.alice });
    await call(s.url, 'GET', '/v1/state', { token: tokens.alice });
    const r = await call(s.url, 'GET', '/v1/state', { token: tokens.alice });
    expectTooMany(r, /at most 2 per 1 s/, 1);
    await new Promise((done) => setTimeout(done, 1100));
    expect((await call(s.url, 'GET', '/v1/state', { token: tokens.alice })).status).toBe(200);
  });

  it('remembers at most `tracked` keys per limit (memory bounded; the least recent is forgotten)', async () => {
    const { s, tokens } = await serverWith({ perToken: 1, tracked: 1 });
    expect((await call(s.url, 'GET', '/v1/state', { token: tokens.alice })).status).toBe(200);
    expect((await call(s.url, 'GET', '/v1/state', { token: tokens.alice })).status).toBe(429);
    // bob's counter pushes alice's out: with one key remembered, alice starts over.
    expect((await call(s.url, 'GET', '/v1/state', { token: tokens.bob })).status).toBe(200);
    expect((await call(s.url, 'GET', '/v1/state', { token: tokens.alice })).status).toBe(200);
  });
});

describe('failed authentication (token guessing)', () => {
  it('after `auth-failures` 401s an address gets 429 for everything until the window ends, valid token or not', async () => {
    const { s, tokens } = await serverWith({ authFailures: 3 });
    expect((await call(s.url, 'GET', '/v1/state', { token: BAD_TOKEN })).status).toBe(401);
    expect((await call(s.url, 'GET', '/v1/state')).status).toBe(401);
    // Successful requests do not count.
    for (let i = 0; i < 5; i++) expect((await call(s.url, 'GET', '/v1/state', { token: tokens.alice })).status).toBe(200);
    expect((await call(s.url, 'GET', '/v1/state', { headers: { authorization: 'Basic eDp5' } })).status).toBe(401);
    for (const token of [BAD_TOKEN, null, tokens.alice, s.adminToken]) {
      expectTooMany(await call(s.url, 'GET', '/v1/state', { token }), /^too many requests with a missing or invalid token from 127\.0\.0\.1: at most 3 a minute; every request from this address is refused until then; retry in \d+ s$/);
    }
    // Nothing else is said: not whether a path exists, not what a body would get.
    expect((await call(s.url, 'GET', '/no-such-path')).status).toBe(429);
    expect((await call(s.url, 'POST', '/v1/changesets', { rawBody: '{' })).status).toBe(429);
  });

  it('guessing tokens fast gets 429s, not answers', async () => {
    const { s } = await serverWith({ authFailures: 30 });
    const statuses = await Promise.all(Array.from({ length: 200 }, (_, i) => call(s.url, 'GET', '/v1/state', { token: `sbt_${String(i).padStart(43, 'A')}` }).then((r) => r.status)));
    expect(statuses.filter((x) => x === 401)).toHaveLength(30);
    expect(statuses.filter((x) => x === 429)).toHaveLength(170);
  });
});

describe('probes', () => {
  it('/healthz and /readyz are never limited, even with every limit at its lowest and exhausted', async () => {
    const { s, tokens } = await serverWith({ perToken: 1, perAddress: 1, authFailures: 1, fingerprintRequests: 1, fingerprintValues: 1, tokenCreations: 1 });
    await call(s.url, 'GET', '/v1/state', { token: BAD_TOKEN });
    expect((await call(s.url, 'GET', '/v1/state', { token: tokens.alice })).status).toBe(429);
    for (let i = 0; i < 100; i++) {
      expect((await call(s.url, 'GET', i % 2 ? '/healthz' : '/readyz/')).status).toBe(200);
    }
  });
});

describe('POST /v1/fingerprints', () => {
  it('has its own, stricter request limit per token; other routes go on', async () => {
    const { s, tokens } = await serverWith({ fingerprintRequests: 3 });
    for (let i = 0; i < 3; i++) expect((await call(s.url, 'POST', '/v1/fingerprints', { token: tokens.alice, body: { values: [`g${i}`] } })).status).toBe(200);
    expectTooMany(await call(s.url, 'POST', '/v1/fingerprints', { token: tokens.alice, body: { values: ['g4'] } }), /^too many fingerprint requests with token [0-9a-f]{16} of 'alice': at most 3 a minute/);
    expect((await call(s.url, 'GET', '/v1/state', { token: tokens.alice })).status).toBe(200);
    // The address's own count is reached too (3 requests from 127.0.0.1): bob is refused as well.
    expectTooMany(await call(s.url, 'POST', '/v1/fingerprints', { token: tokens.bob, body: { values: ['g5'] } }), /^too many fingerprint requests from 127\.0\.0\.1/);
  });

  it('counts values: one request of many guesses is many guesses', async () => {
    const { s, tokens } = await serverWith({ fingerprintValues: 10 });
    const values = (n: number, p: string) => Array.from({ length: n }, (_, i) => `${p}${i}`);
    expect((await call(s.url, 'POST', '/v1/fingerprints', { token: tokens.alice, body: { values: values(6, 'a') } })).status).toBe(200);
    expectTooMany(
      await call(s.url, 'POST', '/v1/fingerprints', { token: tokens.alice, body: { values: values(6, 'b') } }),
      /^too many values to fingerprint for token [0-9a-f]{16} of 'alice': at most 10 a minute \(4 left, this request has 6\)/,
    );
    // A refused request takes nothing: 4 are still left.
    expect((await call(s.url, 'POST', '/v1/fingerprints', { token: tokens.alice, body: { values: values(4, 'c') } })).status).toBe(200);
    // The address's budget is spent too: another token from 127.0.0.1 gets none.
    expectTooMany(await call(s.url, 'POST', '/v1/fingerprints', { token: tokens.bob, body: { values: ['d'] } }), /^too many values to fingerprint for 127\.0\.0\.1: at most 10 a minute \(0 left/);
    const tooBig = await call(s.url, 'POST', '/v1/fingerprints', { token: tokens.alice, body: { values: values(11, 'e') } });
    expectTooMany(tooBig, /^a request of 11 values is over the limit of 10 values to fingerprint a minute: send fewer at a time, or raise the limit \(switchboard serve --rate-limit fingerprint-values=N\)/);
    // Guesses are never echoed.
    expect(tooBig.text).not.toContain('e10');
  });

  it('with the default limits, 100,000 guesses are not all answered', async () => {
    const s = await startServer({ rateLimits: {} });
    servers.push(s);
    const tokens = seed(s);
    expect(s.server.rateLimits).toEqual(DEFAULT_RATE_LIMITS);
    const batch = (n: number) => Array.from({ length: 10_000 }, (_, i) => `guess-${n}-${i}`);
    const statuses: number[] = [];
    for (let n = 0; n < 10; n++) statuses.push((await call(s.url, 'POST', '/v1/fingerprints', { token: tokens.alice, body: { values: batch(n) } })).status);
    expect(statuses).toEqual([200, 200, 429, 429, 429, 429, 429, 429, 429, 429]);
    // One guess per request: request 61 of the window is refused.
    const single: number[] = [];
    for (let i = 0; i < 61; i++) single.push((await call(s.url, 'POST', '/v1/fingerprints', { token: tokens.bob, body: { values: [] } })).status);
    expect(single.indexOf(429)).toBe(DEFAULT_RATE_LIMITS.fingerprintRequests - 10);
  });
});

describe('the HTTP client', () => {
  it('reports a 429 as a RuntimeError with the server\'s message, which says when to retry', async () => {
    const { connectRuntime, RuntimeHttpError } = await import('../../src/runtime/http-client.js');
    const { s, tokens } = await serverWith({ fingerprintRequests: 1 });
    const client = await connectRuntime(s.url, tokens.alice);
    expect(await client.fingerprint(['a'])).toHaveLength(1);
    const e = await client.fingerprint(['b']).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RuntimeHttpError);
    expect((e as InstanceType<typeof RuntimeHttpError>).status).toBe(429);
    expect((e as Error).message).toMatch(new RegExp(`^runtime at ${s.url.replace(/\./g, '\\.')} failed POST /v1/fingerprints \\(HTTP 429\\): too many fingerprint requests with token [0-9a-f]{16} of 'alice': at most 1 a minute; retry in \\d+ s$`));
    await client.close();
  });
});

describe('POST /v1/tokens', () => {
  it('has its own, stricter limit', async () => {
    const { s, tokens } = await serverWith({ tokenCreations: 2 });
    for (let i = 0; i < 2; i++) expect((await call(s.url, 'POST', '/v1/tokens', { token: tokens.root, body: { username: 'alice' } })).status).toBe(201);
    const r = await call(s.url, 'POST', '/v1/tokens', { token: tokens.root, body: { username: 'alice' } });
    expectTooMany(r, /^too many token creations with token [0-9a-f]{16} of 'root': at most 2 a minute/);
    expect((await call(s.url, 'GET', '/v1/tokens', { token: tokens.root })).status).toBe(200);
    expect((await call(s.url, 'DELETE', '/v1/tokens/0123456789abcdef', { token: tokens.root })).status).toBe(404);
  });
});

describe('429s are logged and counted like any answer', () => {
  it('one request line with status 429, and switchboard_http_requests_total{status="429"}', async () => {
    const { s, tokens } = await serverWith({ perToken: 1 });
    await call(s.url, 'GET', '/v1/state', { token: tokens.alice });
    await call(s.url, 'GET', '/v1/state', { token: tokens.alice });
    expect(s.logs.lines().find((l) => l.msg === 'request' && l.status === 429)).toMatchObject({ route: '/v1/state', user: 'alice' });
    const metrics = await call(s.url, 'GET', '/metrics', { token: s.adminToken });
    expect(metrics.text).toMatch(/switchboard_http_requests_total\{method="GET",route="\/v1\/state",status="429"\} 1/);
  });
});

describe('options', () => {
  it('parses serve --rate-limit values, repeated or comma-separated, and refuses bad ones clearly', () => {
    expect(parseRateLimits(['per-token=600,window=30', 'fingerprint-values=5000'])).toEqual({ perToken: 600, windowMs: 30_000, fingerprintValues: 5000 });
    expect(parseRateLimits([])).toEqual({});
    expect(() => parseRateLimits(['per-tokn=5'])).toThrow("--rate-limit: unknown limit 'per-tokn': one of window, per-token, per-address, auth-failures, fingerprint-requests, fingerprint-values, token-creations, tracked");
    expect(() => parseRateLimits(['per-token=0'])).toThrow("--rate-limit per-token must be a whole number from 1 to 1,000,000,000, not '0'");
    expect(() => parseRateLimits(['window=1.5'])).toThrow("--rate-limit window must be a whole number from 1 to 86,400 (seconds), not '1.5'");
    expect(() => parseRateLimits(['per-token'])).toThrow(/takes NAME=NUMBER/);
    expect(() => resolveRateLimits({ perToken: -1 })).toThrow('rate limit per-token must be a positive integer, not -1');
    expect(resolveRateLimits({ perToken: 7 })).toEqual({ ...DEFAULT_RATE_LIMITS, perToken: 7 });
  });

  it('ValueBudget takes from every key or none, forgets the least recent key past `tracked`', () => {
    const b = new ValueBudget(10, 1000, 2);
    expect(b.take(['t', 'a'], 6, 0)).toBeUndefined();
    expect(b.take(['t', 'a'], 5, 1)).toEqual({ key: 't', left: 4, retryMs: 999 });
    expect(b.take(['u', 'a'], 5, 2)).toEqual({ key: 'a', left: 4, retryMs: 998 });
    expect(b.take(['t', 'a'], 4, 3)).toBeUndefined();
    expect(b.take(['t', 'a'], 1, 1000)).toBeUndefined();
    const one = new ValueBudget(1, 60_000, 2);
    one.take(['x'], 1, 0);
    one.take(['y'], 1, 0);
    one.take(['z'], 1, 0);
    expect(one.take(['x'], 1, 1)).toBeUndefined();
  });
});
