/** docs/openapi.json is generated from the schemas (npm run gen:openapi) and must be current and self-consistent. */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { KIND_NAMES } from '../../src/model/kinds.js';
import { OPENAPI_FILE, openapiDocument, openapiText } from '../../scripts/openapi.js';

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
    for (const p of ['/v1/state', '/v1/changesets', '/v1/fingerprints', '/v1/impact', '/v1/audit', '/v1/status', '/v1/links', '/v1/extensions', '/v1/events', '/v1/tokens', '/v1/tokens/{id}', '/healthz', '/readyz', '/metrics']) expect(doc.paths).toHaveProperty([p]);
    for (const kind of KIND_NAMES) {
      expect(doc.paths[`/v1/resources/${kind}`]!.post!.requestBody!.content['application/json']!.schema.$ref).toBe(`#/components/schemas/${kind}`);
      expect(Object.keys(doc.paths[`/v1/resources/${kind}/{id}`]!)).toEqual(expect.arrayContaining(['get', 'put', 'delete']));
    }
  });
});
