/**
 * docs/openapi.json is generated from the schemas (npm run gen:openapi) and must be current and
 * self-consistent; it describes every route the server has (and nothing else), every 429 of the
 * rate limits, and the server publishes it at /openapi.json.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { KIND_NAMES } from '../../src/model/kinds.js';
import { OPENAPI_FILE, openapiDocument, openapiText } from '../../scripts/openapi.js';
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

type Operation = { security?: unknown; requestBody?: { content: Record<string, { schema: { $ref: string } }> }; responses: Record<string, unknown> };
type Paths = Record<string, Record<string, Operation>>;
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

describe('docs/openapi.json', () => {
  it('is up to date (run npm run gen:openapi after changing schemas/ or src/server/schemas.ts)', () => {
    expect(readFileSync(OPENAPI_FILE, 'utf8') === openapiText()).toBe(true);
  });

  it('resolves every $ref inside the document', () => {
    const doc = openapiDocument();
    const refs: string[] = [];
    const walk = (n: unknown) => {
      if (Array.isArray(n)) n.forEach(walk);
      else if (n && typeof n === 'object') for (const [k, v] of Object.entries(n)) k === '$ref' && typeof v === 'string' ? refs.push(v) : walk(v);
    };
    walk(doc);
    expect(refs.length).toBeGreaterThan(100);
    for (const ref of new Set(refs)) {
      expect(ref.startsWith('#/'), ref).toBe(true);
      let node: unknown = doc;
      for (const part of ref.slice(2).split('/')) node = (node as Record<string, unknown> | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
      expect(node, ref).toBeTypeOf('object');
    }
  });

  it('describes every endpoint the server has, and a resource path per kind whose body is the kind schema', () => {
    const doc = openapiDocument() as { paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { $ref: string } }> } }>> };
    for (const p of ['/v1/state', '/v1/changesets', '/v1/fingerprints', '/v1/impact', '/v1/audit', '/v1/status', '/v1/links', '/v1/extensions', '/v1/events', '/v1/tokens', '/v1/tokens/{id}', '/healthz', '/readyz', '/metrics', '/openapi.json']) expect(doc.paths).toHaveProperty([p]);
    for (const kind of KIND_NAMES) {
      expect(doc.paths[`/v1/resources/${kind}`]!.post!.requestBody!.content['application/json']!.schema.$ref).toBe(`#/components/schemas/${kind}`);
      expect(Object.keys(doc.paths[`/v1/resources/${kind}/{id}`]!)).toEqual(expect.arrayContaining(['get', 'put', 'delete']));
    }
  });

  it('describes exactly the routes the server answers', () => {
    const paths = (openapiDocument() as { paths: Paths }).paths;
    const documented = new Set(Object.entries(paths).flatMap(([p, item]) => Object.keys(item).filter((m) => METHODS.includes(m)).map((m) => `${m.toUpperCase()} ${p}`)));
    // A server route as the document writes it: `:kind` of /v1/resources is one path per kind.
    const expand = (method: string, url: string): string[] => {
      const p = url.replace(/\/\*$/, '/{id}').replace(/:(\w+)/g, '{$1}');
      return p.startsWith('/v1/resources/{kind}') ? KIND_NAMES.map((k) => `${method} ${p.replace('{kind}', k)}`) : [`${method} ${p}`];
    };
    const served = new Set(s.server.routes.flatMap((r) => expand(r.method, r.url)));
    expect(served.size).toBeGreaterThan(20);
    expect([...served].filter((r) => !documented.has(r))).toEqual([]);
    expect([...documented].filter((r) => !served.has(r))).toEqual([]);
  });

  it('gives every operation that needs a token its 401 and its 429 (rate limits, with Retry-After)', () => {
    const doc = openapiDocument() as { paths: Paths; components: { responses: Record<string, { headers?: Record<string, unknown> }> } };
    expect(doc.components.responses.TooManyRequests!.headers).toHaveProperty(['Retry-After']);
    const ops = Object.entries(doc.paths).flatMap(([p, item]) => Object.entries(item).filter(([m]) => METHODS.includes(m)).map(([m, op]) => [`${m} ${p}`, op] as const));
    for (const [name, op] of ops) {
      if (name.endsWith('/healthz') || name.endsWith('/readyz')) {
        expect(op.security, name).toBeUndefined();
        expect(op.responses, name).not.toHaveProperty(['429']);
        continue;
      }
      expect(op.security, name).toBeDefined();
      expect(op.responses[401] ?? op.responses['401'], name).toBeDefined();
      expect(op.responses[429], name).toEqual({ $ref: '#/components/responses/TooManyRequests' });
    }
  });
});

describe('GET /openapi.json', () => {
  it('serves the document of docs/openapi.json, to a token holder only', async () => {
    const none = await call(s.url, 'GET', '/openapi.json');
    expect(none.status).toBe(401);
    expect(none.text).not.toContain('openapi');
    const r = await call(s.url, 'GET', '/openapi.json', { token: tokens.alice });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.body).toEqual(JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')));
  });
});
