/**
 * Seeded fuzzing of request bodies: valid bodies of every body-taking endpoint, mutated
 * (truncated, bytes flipped, a value nested hundreds to thousands of levels deep, values
 * swapped for other JSON types, prototype keys, duplicate keys, huge numbers, lone surrogates)
 * and sent to a real server. No answer may be a 500, the server must log no failure, and it must
 * keep answering.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, seed, startServer, type TestServer } from './helpers.js';
import { prng } from '../prng.js';

let s: TestServer;
let tokens: { alice: string; bob: string; root: string };

beforeAll(async () => {
  s = await startServer();
  tokens = seed(s);
});
afterAll(async () => {
  await s?.close();
});

const VALID: readonly { method: string; path: string; body: () => unknown }[] = [
  { method: 'POST', path: '/v1/fingerprints', body: () => ({ values: ['a', 'b'] }) },
  { method: 'POST', path: '/v1/impact', body: () => ({ changes: [{ action: 'update', kind: 'User', id: 'acme/paris/jdoe', body: { domain: 'acme/paris', username: 'jdoe', firstName: 'J' } }] }) },
  { method: 'POST', path: '/v1/changesets', body: () => ({ baseRevision: s.runtime.revision(), changes: [{ action: 'create', kind: 'User', id: 'acme/paris/fz', body: { domain: 'acme/paris', username: 'fz', devices: [{ number: '1001', protocol: 'CSTA' }] } }], origin: { via: 'api', summary: 'fuzz' } }) },
  { method: 'POST', path: '/v1/resources/User', body: () => ({ domain: 'acme/paris', username: 'fz2', firstName: 'F', devices: [{ number: '1002', protocol: 'CSTA' }] }) },
  { method: 'PUT', path: '/v1/resources/User/acme%2Fparis%2Fjdoe', body: () => ({ domain: 'acme/paris', username: 'jdoe', firstName: 'J' }) },
  { method: 'POST', path: '/v1/tokens', body: () => ({ username: 'alice' }) },
  { method: 'POST', path: '/v1/sync/Directory/acme%2Fparis%2Fnone', body: () => ({ dryRun: true }) },
];

const OTHER_VALUES: readonly unknown[] = [null, true, 0, -1, 1e308, 12345678901234567890, '', 'x'.repeat(10_000), '\u0000', [], {}, [[[]]], { $secret: 'hmac-sha256:x' }];

/** One mutation of a body, as the text sent. */
function mutate(rand: () => number, body: unknown): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const text = JSON.stringify(body);
  // A path to a random container or value of the body.
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, p: (string | number)[]) => {
    paths.push(p);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...p, i]));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
  };
  walk(body, []);
  const replaceAt = (p: (string | number)[], value: unknown): unknown => {
    if (p.length === 0) return value;
    const copy = structuredClone(body) as Record<string | number, unknown>;
    let o = copy;
    for (const step of p.slice(0, -1)) o = o[step] as Record<string | number, unknown>;
    o[p[p.length - 1]!] = value;
    return copy;
  };
  switch (Math.floor(rand() * 10)) {
    case 0:
      return text.slice(0, Math.floor(rand() * text.length));
    case 1: {
      const i = Math.floor(rand() * text.length);
      return text.slice(0, i) + String.fromCharCode(Math.floor(rand() * 128)) + text.slice(i + 1);
    }
    case 2:
    case 7:
    case 8: {
      // A value nested 50 to 100,000 levels deep, as arrays or objects, spliced in as text.
      const depth = Math.floor(50 * 2000 ** rand());
      const deep = rand() < 0.5 ? '['.repeat(depth) + '1' + ']'.repeat(depth) : '{"k":'.repeat(depth) + '1' + '}'.repeat(depth);
      const marker = '"__FUZZ__"';
      return JSON.stringify(replaceAt(pick(paths), '__FUZZ__')).replace(marker, deep);
    }
    case 3:
      return JSON.stringify(replaceAt(pick(paths), pick(OTHER_VALUES)));
    case 4:
      return text.replace(/^\{/, pick(['{"__proto__":{"admin":true},', '{"constructor":{"prototype":{"x":1}},', '{"__proto__":null,']));
    case 5:
      return text.replace(/^\{"(\w+)":/, '{"$1":1,"$1":');
    case 6:
      return text.replace(/"[^"]*"/, '"\\ud800"');
    default:
      return JSON.stringify([body, body]);
  }
}

describe('request body fuzzing', () => {
  it('600 mutated bodies over every body-taking endpoint: never a 500, the server keeps answering', async () => {
    const rand = prng(20261208);
    const statuses = new Map<number, number>();
    for (let i = 0; i < 600; i++) {
      const op = VALID[i % VALID.length]!;
      const text = mutate(rand, op.body());
      const r = await call(s.url, op.method, op.path, { token: i % 3 === 0 ? tokens.alice : tokens.root, rawBody: text });
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      expect([200, 201, 400, 403, 404, 409, 412, 413, 415, 422], `${op.method} ${op.path} with ${text.slice(0, 200)} → ${r.status} ${r.text.slice(0, 200)}`).toContain(r.status);
      if (r.status === 400) expect(r.body.error.code).toBe('bad-request');
    }
    expect(statuses.get(400)).toBeGreaterThan(100);
    expect(s.logs.lines().filter((l) => l.msg === 'request failed' || l.status === 500)).toEqual([]);
    expect((await call(s.url, 'GET', '/healthz')).status).toBe(200);
    expect((await call(s.url, 'GET', '/v1/state', { token: tokens.root })).status).toBe(200);
  }, 120_000);
});
