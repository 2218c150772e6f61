/**
 * The authentication and tenancy matrix, against a real server: every endpoint × no token,
 * a bad token, a company admin on their own company, on another company, and super users
 * (an AdminAccount with superUser, and the built-in token of admin.token).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, readEvents, seed, startServer, type TestServer } from './helpers.js';

let s: TestServer;
let tokens: { alice: string; bob: string; root: string };
let counter = 0;

beforeAll(async () => {
  s = await startServer();
  tokens = seed(s);
});
afterAll(async () => {
  await s?.close();
});

type Who = 'none' | 'bad' | 'own' | 'other' | 'super' | 'builtin';
/** An endpoint, built at call time (change sets need the current revision, creates a fresh name). */
interface Endpoint {
  readonly name: string;
  /** The request as it targets company `company` (acme is alice's own, globex another's). */
  readonly request: (company: 'acme' | 'globex') => { method: string; path: string; body?: unknown };
  /** Expected status for an allowed principal. */
  readonly ok: number;
  /** Super-user-only endpoints: a company admin gets 403 even on their own company. */
  readonly superOnly?: boolean;
  /** Endpoints of no company (fingerprints, the OpenAPI document): every administrator may. */
  readonly anyCompany?: boolean;
}

const user = (company: string) => (company === 'acme' ? { domain: 'acme/paris', id: 'acme/paris/jdoe' } : { domain: 'globex/berlin', id: 'globex/berlin/hans' });

const endpoints: Endpoint[] = [
  { name: 'GET /v1/state?company', request: (c) => ({ method: 'GET', path: `/v1/state?company=${c}` }), ok: 200 },
  {
    name: 'POST /v1/changesets',
    request: (c) => {
      const n = `u${++counter}`;
      return {
        method: 'POST',
        path: '/v1/changesets',
        body: { baseRevision: s.runtime.revision(), changes: [{ action: 'create', kind: 'User', id: `${user(c).domain}/${n}`, body: { domain: user(c).domain, username: n } }], origin: { via: 'api' } },
      };
    },
    ok: 200,
  },
  { name: 'POST /v1/impact', request: (c) => ({ method: 'POST', path: '/v1/impact', body: { changes: [{ action: 'delete', kind: 'User', id: user(c).id }] } }), ok: 200 },
  { name: 'GET /v1/resources/:kind/:id', request: (c) => ({ method: 'GET', path: `/v1/resources/User/${encodeURIComponent(user(c).id)}` }), ok: 200 },
  { name: 'GET /v1/resources/:kind?company', request: (c) => ({ method: 'GET', path: `/v1/resources/User?company=${c}` }), ok: 200 },
  {
    name: 'POST /v1/resources/:kind',
    request: (c) => {
      const n = `p${++counter}`;
      return { method: 'POST', path: '/v1/resources/User', body: { domain: user(c).domain, username: n } };
    },
    ok: 201,
  },
  {
    name: 'PUT /v1/resources/:kind/:id',
    request: (c) => {
      const u = s.runtime.get('User', user(c).id)!;
      return { method: 'PUT', path: `/v1/resources/User/${encodeURIComponent(user(c).id)}`, body: { ...u.body, lastName: `L${++counter}` } };
    },
    ok: 200,
  },
  {
    name: 'DELETE /v1/resources/:kind/:id',
    request: (c) => {
      const n = `d${++counter}`;
      const id = `${user(c).domain}/${n}`;
      const r = s.runtime.apply({ baseRevision: s.runtime.revision(), changes: [{ action: 'create', kind: 'User', id, body: { domain: user(c).domain, username: n } }], origin: { via: 'plan', actor: 'test' } });
      if (!r.ok) throw new Error(r.message);
      return { method: 'DELETE', path: `/v1/resources/User/${encodeURIComponent(id)}` };
    },
    ok: 200,
  },
  { name: 'GET /v1/audit?company', request: (c) => ({ method: 'GET', path: `/v1/audit?company=${c}` }), ok: 200 },
  { name: 'GET /v1/status?company', request: (c) => ({ method: 'GET', path: `/v1/status?company=${c}` }), ok: 200 },
  { name: 'GET /v1/licences?company', request: (c) => ({ method: 'GET', path: `/v1/licences?company=${c}` }), ok: 200 },
  { name: 'GET /v1/links?company', request: (c) => ({ method: 'GET', path: `/v1/links?company=${c}` }), ok: 200 },
  { name: 'GET /v1/extensions?company', request: (c) => ({ method: 'GET', path: `/v1/extensions?company=${c}` }), ok: 200 },
  { name: 'GET /v1/events?company', request: (c) => ({ method: 'GET', path: `/v1/events?company=${c}` }), ok: 200 },
  { name: 'POST /v1/tokens', request: () => ({ method: 'POST', path: '/v1/tokens', body: { username: 'alice' } }), ok: 201, superOnly: true },
  { name: 'GET /v1/tokens', request: () => ({ method: 'GET', path: '/v1/tokens' }), ok: 200, superOnly: true },
  { name: 'GET /metrics', request: () => ({ method: 'GET', path: '/metrics' }), ok: 200, superOnly: true },
  {
    name: 'DELETE /v1/tokens/:id',
    request: () => ({ method: 'DELETE', path: `/v1/tokens/${s.tokens.create('bob').id}` }),
    ok: 204,
    superOnly: true,
  },
  { name: 'POST /v1/fingerprints', request: () => ({ method: 'POST', path: '/v1/fingerprints', body: { values: ['guess'] } }), ok: 200, anyCompany: true },
  { name: 'GET /openapi.json', request: () => ({ method: 'GET', path: '/openapi.json' }), ok: 200, anyCompany: true },
  // Tenancy is checked before the id: an unknown directory of one's own company is 404, of another 403.
  { name: 'POST /v1/sync/:kind/:id', request: (c) => ({ method: 'POST', path: `/v1/sync/Directory/${encodeURIComponent(`${user(c).domain}/Nope`)}`, body: { dryRun: true } }), ok: 404 },
  { name: 'GET /v1/lookup', request: (c) => ({ method: 'GET', path: `/v1/lookup?domain=${encodeURIComponent(user(c).domain)}&number=1001` }), ok: 200 },
];

const WHO: readonly Who[] = ['none', 'bad', 'own', 'other', 'super', 'builtin'];

function tokenOf(who: Who): string | null {
  switch (who) {
    case 'none':
      return null;
    case 'bad':
      return 'sbt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    case 'own':
    case 'other':
      return tokens.alice;
    case 'super':
      return tokens.root;
    case 'builtin':
      return s.adminToken;
  }
}

function expected(e: Endpoint, who: Who): number {
  if (who === 'none' || who === 'bad') return 401;
  if (who === 'super' || who === 'builtin') return e.ok;
  if (e.superOnly) return 403;
  return who === 'own' || e.anyCompany ? e.ok : 403;
}

/** Status of one request; an event stream is read only up to its headers. */
async function statusOf(e: Endpoint, who: Who): Promise<{ status: number; text: string }> {
  const req = e.request(who === 'other' ? 'globex' : 'acme');
  const token = tokenOf(who);
  if (req.path.startsWith('/v1/events') && token) {
    const r = await readEvents(s.url, req.path, token, (_ev, raw) => raw.includes(': connected'));
    return { status: r.status, text: r.raw };
  }
  const r = await call(s.url, req.method, req.path, { token, body: req.body });
  return { status: r.status, text: r.text };
}

describe('auth matrix', () => {
  const rows = endpoints.flatMap((e) => WHO.map((who) => [e.name, who, expected(e, who), e] as const));
  it.each(rows)('%s as %s → %i', async (_name, who, status, e) => {
    const r = await statusOf(e, who);
    expect(r.status, r.text).toBe(status);
    if (status === 401) expect(JSON.parse(r.text).error.code).toBe('unauthorized');
    if (status === 403 && !e.name.startsWith('POST /v1/changesets') && !e.name.includes('resources/:kind')) expect(JSON.parse(r.text).error.code).toBe('forbidden');
  });
});

describe('tenancy details', () => {
  it('a company admin without ?company sees only their companies', async () => {
    const r = await call(s.url, 'GET', '/v1/state', { token: tokens.alice });
    expect(r.status).toBe(200);
    const ids = (r.body.resources as { kind: string; id: string }[]).map((x) => `${x.kind}:${x.id}`);
    expect(ids).toContain('User:acme/paris/jdoe');
    expect(ids).toContain('Company:acme');
    expect(ids.some((i) => i.includes('globex'))).toBe(false);
    expect(ids.some((i) => i.startsWith('AdminAccount:'))).toBe(false);
  });

  it('a super user sees everything, including AdminAccounts', async () => {
    const r = await call(s.url, 'GET', '/v1/state', { token: tokens.root });
    const ids = (r.body.resources as { kind: string; id: string }[]).map((x) => `${x.kind}:${x.id}`);
    expect(ids).toEqual(expect.arrayContaining(['User:globex/berlin/hans', 'User:acme/paris/jdoe', 'AdminAccount:alice']));
  });

  it('a change set mixing own and other companies is refused whole, with each forbidden change named', async () => {
    const before = s.runtime.revision();
    const r = await call(s.url, 'POST', '/v1/changesets', {
      token: tokens.alice,
      body: {
        baseRevision: before,
        changes: [
          { action: 'create', kind: 'User', id: 'acme/paris/mix1', body: { domain: 'acme/paris', username: 'mix1' } },
          { action: 'delete', kind: 'User', id: 'globex/berlin/hans' },
        ],
        origin: { via: 'plan' },
      },
    });
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ ok: false, code: 'forbidden', problems: [{ kind: 'User', id: 'globex/berlin/hans' }] });
    expect(s.runtime.revision()).toBe(before);
    expect(s.runtime.get('User', 'acme/paris/mix1')).toBeUndefined();
  });

  it('a company admin cannot touch server-wide resources (AdminAccount), not even their own', async () => {
    const me = s.runtime.get('AdminAccount', 'alice')!;
    const r = await call(s.url, 'PUT', '/v1/resources/AdminAccount/alice', { token: tokens.alice, body: { ...me.body, superUser: true } });
    expect(r.status).toBe(403);
    expect(s.runtime.get('AdminAccount', 'alice')!.body.superUser).toBeUndefined();
  });

  it('a body claiming another company under an own id is refused (the body decides too)', async () => {
    const r = await call(s.url, 'POST', '/v1/changesets', {
      token: tokens.alice,
      body: { baseRevision: s.runtime.revision(), changes: [{ action: 'create', kind: 'User', id: 'acme/paris/sneaky', body: { domain: 'globex/berlin', username: 'sneaky' } }], origin: { via: 'api' } },
    });
    expect(r.status).toBe(403);
  });

  it('the actor recorded is the token’s administrator, never the one in the body', async () => {
    const r = await call(s.url, 'POST', '/v1/changesets', {
      token: tokens.alice,
      body: { baseRevision: s.runtime.revision(), changes: [{ action: 'create', kind: 'User', id: 'acme/paris/actor1', body: { domain: 'acme/paris', username: 'actor1' } }], origin: { via: 'api', actor: 'root' } },
    });
    expect(r.status).toBe(200);
    const [entry] = s.runtime.audit({ limit: 1 });
    expect(entry).toMatchObject({ revision: r.body.revision, actor: 'alice', via: 'api' });
    expect(s.runtime.get('User', 'acme/paris/actor1')!.updatedBy).toBe('alice');
  });

  it('the audit log and status of a company admin hold only their companies', async () => {
    const audit = await call(s.url, 'GET', '/v1/audit?limit=1000', { token: tokens.alice });
    expect(audit.status).toBe(200);
    const ids = (audit.body as { changes: { id: string }[] }[]).flatMap((e) => e.changes.map((c) => c.id));
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.every((id) => id.startsWith('acme'))).toBe(true);
    const status = await call(s.url, 'GET', '/v1/status', { token: tokens.bob });
    expect(status.status).toBe(200);
    expect(JSON.stringify(status.body)).not.toContain('acme');
    // Links and extensions: acme's link is alice's to see, not bob's.
    expect(((await call(s.url, 'GET', '/v1/links', { token: tokens.alice })).body as { id: string }[]).map((l) => l.id)).toEqual(['acme/paris/pbx']);
    expect((await call(s.url, 'GET', '/v1/links', { token: tokens.bob })).body).toEqual([]);
    expect(JSON.stringify((await call(s.url, 'GET', '/v1/extensions', { token: tokens.bob })).body)).not.toContain('acme');
  });

  it('an AdminAccount deleted or narrowed takes effect at once for its tokens', async () => {
    const carol = s.runtime.apply({
      baseRevision: s.runtime.revision(),
      changes: [{ action: 'create', kind: 'AdminAccount', id: 'carol', body: { username: 'carol', password: 'Carol-pass-0001', companies: ['acme', 'globex'] } }],
      origin: { via: 'plan', actor: 'test' },
    });
    expect(carol.ok).toBe(true);
    const created = await call(s.url, 'POST', '/v1/tokens', { token: tokens.root, body: { username: 'carol' } });
    expect(created.status).toBe(201);
    const token = created.body.token as string;
    expect((await call(s.url, 'GET', '/v1/state?company=globex', { token })).status).toBe(200);
    const narrowed = s.runtime.apply({
      baseRevision: s.runtime.revision(),
      changes: [{ action: 'update', kind: 'AdminAccount', id: 'carol', body: { ...s.runtime.get('AdminAccount', 'carol')!.body, companies: ['acme'] } }],
      origin: { via: 'plan', actor: 'test' },
    });
    expect(narrowed.ok).toBe(true);
    expect((await call(s.url, 'GET', '/v1/state?company=globex', { token })).status).toBe(403);
    s.runtime.apply({ baseRevision: s.runtime.revision(), changes: [{ action: 'delete', kind: 'AdminAccount', id: 'carol' }], origin: { via: 'plan', actor: 'test' } });
    const gone = await call(s.url, 'GET', '/v1/state', { token });
    expect(gone.status).toBe(401);
    expect(gone.body.error.message).toMatch(/no longer exists/);
  });

  it('tokens can be listed and revoked by a super user; a revoked token is refused', async () => {
    const created = await call(s.url, 'POST', '/v1/tokens', { token: s.adminToken, body: { username: 'bob' } });
    expect(created.status).toBe(201);
    const list = await call(s.url, 'GET', '/v1/tokens', { token: s.adminToken });
    expect(list.body.map((t: { id: string }) => t.id)).toContain(created.body.id);
    expect(list.text).not.toContain(created.body.token);
    expect((await call(s.url, 'GET', '/v1/state', { token: created.body.token })).status).toBe(200);
    expect((await call(s.url, 'DELETE', `/v1/tokens/${created.body.id}`, { token: s.adminToken })).status).toBe(204);
    expect((await call(s.url, 'GET', '/v1/state', { token: created.body.token })).status).toBe(401);
    expect((await call(s.url, 'POST', '/v1/tokens', { token: s.adminToken, body: { username: 'nobody' } })).status).toBe(422);
    expect((await call(s.url, 'POST', '/v1/tokens', { token: s.adminToken, body: { username: 'builtin:admin' } })).status).toBe(422);
  });

  it('malformed Authorization headers are 401 with a clear message; every path but the probes needs a token, even before 404', async () => {
    const basic = await call(s.url, 'GET', '/v1/state', { headers: { authorization: 'Basic YWxpY2U6eA==' } });
    expect(basic.status).toBe(401);
    expect(basic.body.error.message).toMatch(/Bearer/);
    expect((await call(s.url, 'GET', '/v1/nothing-here')).status).toBe(401);
    expect((await call(s.url, 'GET', '/nothing-here')).status).toBe(401);
    expect((await call(s.url, 'GET', '/metrics/')).status).toBe(401);
    expect((await call(s.url, 'GET', '/metrics/', { token: tokens.alice })).status).toBe(403);
    expect((await call(s.url, 'GET', '/v1/nothing-here', { token: tokens.alice })).status).toBe(404);
  });

  it('/healthz and /readyz need no token', async () => {
    expect((await call(s.url, 'GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await call(s.url, 'GET', '/readyz')).status).toBe(200);
    expect((await call(s.url, 'GET', '/readyz/?x=1')).status).toBe(200);
  });
});
