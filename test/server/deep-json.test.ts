/**
 * JSON nested 20,000 and 100,000 levels deep, as arrays and as objects, on every operation of
 * the OpenAPI document that takes a body: a 400 that says how deep and where, never a 500 (it
 * was `Maximum call stack size exceeded`); a body just under the limit is judged as usual; the
 * server keeps answering.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openapiDocument } from '../../src/server/openapi.js';
import { MAX_JSON_DEPTH } from '../../src/runtime/json-depth.js';
import { call, seed, startServer, type TestServer } from './helpers.js';

let s: TestServer;
let tokens: { alice: string; bob: string; root: string };

beforeAll(async () => {
  s = await startServer();
  tokens = seed(s);
});
afterAll(async () => {
  await s?.close();
});

/** Every operation with a request body, its path parameters filled in. */
function bodyOperations(): { method: string; path: string }[] {
  const doc = openapiDocument() as { paths: Record<string, Record<string, { requestBody?: unknown }>> };
  const out: { method: string; path: string }[] = [];
  for (const [template, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!op || typeof op !== 'object' || !('requestBody' in op)) continue;
      const path = template.replace('{kind}', 'Directory').replace('{id}', encodeURIComponent('acme/paris/nothing'));
      out.push({ method: method.toUpperCase(), path });
    }
  }
  return out;
}

const deepArrayText = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const deepObjectText = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

/** A body of the operation's usual shape whose one field holds `inner`, so the depth is the only thing wrong. */
function bodyAround(path: string, inner: string): string {
  if (path === '/v1/fingerprints') return `{"values":${inner}}`;
  if (path === '/v1/tokens') return `{"username":${inner}}`;
  if (path === '/v1/changesets') return `{"baseRevision":1,"changes":[{"action":"create","kind":"User","id":"acme/paris/x","body":{"domain":"acme/paris","username":"x","firstName":${inner}}}],"origin":{"via":"api"}}`;
  if (path === '/v1/impact') return `{"changes":[{"action":"create","kind":"User","id":"acme/paris/x","body":{"domain":"acme/paris","username":"x","firstName":${inner}}}]}`;
  if (path.startsWith('/v1/sync/')) return `{"dryRun":${inner}}`;
  return `{"domain":"acme/paris","name":"nothing","username":"nothing","x":${inner}}`;
}

const operations = bodyOperations();

describe('deep JSON bodies', () => {
  it('finds every body-taking operation in the OpenAPI document', () => {
    const paths = operations.map((o) => `${o.method} ${o.path}`);
    for (const p of ['POST /v1/changesets', 'POST /v1/fingerprints', 'POST /v1/impact', 'POST /v1/tokens', 'POST /v1/resources/User', 'PUT /v1/resources/User/acme%2Fparis%2Fnothing', 'POST /v1/sync/Directory/acme%2Fparis%2Fnothing']) {
      expect(paths).toContain(p);
    }
  });

  const cases = operations.flatMap((o) =>
    [20_000, 100_000].flatMap((depth) =>
      [
        ['arrays', deepArrayText(depth)],
        ['objects', deepObjectText(depth)],
      ].map(([shape, text]) => [`${o.method} ${o.path}`, depth, shape!, o, text!] as const),
    ),
  );

  it.each(cases)('%s: %i levels of %s → 400 naming the depth', async (_name, _depth, _shape, o, text) => {
    const r = await call(s.url, o.method, o.path, { token: tokens.root, rawBody: bodyAround(o.path, text) });
    expect(r.status, r.text.slice(0, 300)).toBe(400);
    expect(r.body.error.code).toBe('bad-request');
    expect(r.body.error.message).toMatch(/^the request body nests more than 64 levels deep \(at [^)]*…\): no request of this API does/);
  });

  it('a body just within the limit is judged as usual (schema or runtime), not refused for its depth', async () => {
    // The whole body may nest 64 levels; in a change set a body field's value is at depth 5.
    const inner = deepArrayText(MAX_JSON_DEPTH - 4);
    const r = await call(s.url, 'POST', '/v1/changesets', { token: tokens.root, rawBody: bodyAround('/v1/changesets', inner).replace('"baseRevision":1', `"baseRevision":${s.runtime.revision()}`) });
    expect(r.status, r.text).toBe(422);
    expect(r.body).toMatchObject({ ok: false, code: 'invalid' });
    expect(JSON.stringify(r.body.problems)).toContain('firstName');
    const over = await call(s.url, 'POST', '/v1/changesets', { token: tokens.root, rawBody: bodyAround('/v1/changesets', deepArrayText(MAX_JSON_DEPTH - 3)) });
    expect(over.status).toBe(400);
    expect(over.body.error.message).toMatch(/nests more than 64 levels deep \(at changes\/0\/body\/firstName\/0\/0\/0\/0\/…\)/);
    const fingerprints = await call(s.url, 'POST', '/v1/fingerprints', { token: tokens.root, rawBody: bodyAround('/v1/fingerprints', deepArrayText(MAX_JSON_DEPTH - 1)) });
    expect(fingerprints.status).toBe(400);
    expect(fingerprints.body.error.message).toMatch(/^invalid FingerprintRequest/);
  });

  it('the server keeps answering: probes, reads and writes', async () => {
    expect((await call(s.url, 'GET', '/healthz')).status).toBe(200);
    expect((await call(s.url, 'GET', '/readyz')).status).toBe(200);
    expect((await call(s.url, 'GET', '/v1/state', { token: tokens.alice })).status).toBe(200);
    const created = await call(s.url, 'POST', '/v1/resources/User', { token: tokens.alice, body: { domain: 'acme/paris', username: 'after', firstName: 'After' } });
    expect(created.status).toBe(201);
    expect(s.logs.lines().filter((l) => l.status === 500)).toEqual([]);
  });

  it('query strings are flat: bracketed keys nest nothing, a repeated parameter is 400', async () => {
    const nested = `/v1/state?company${'[a]'.repeat(2000)}=globex`;
    const r = await call(s.url, 'GET', nested, { token: tokens.alice });
    expect(r.status).toBe(200);
    expect(r.body.resources.every((x: { id: string }) => !x.id.startsWith('globex'))).toBe(true);
    const repeated = await call(s.url, 'GET', '/v1/state?company=acme&company=acme', { token: tokens.alice });
    expect(repeated.status).toBe(400);
    expect(repeated.body.error.message).toBe('give the query parameter company once');
  });

  it('a deep body never reaches the log (only the request line)', () => {
    expect(s.logs.text).not.toContain('[[[[');
    expect(s.logs.text).not.toContain('{"a":{"a"');
  });
});
