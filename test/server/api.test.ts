/** The endpoints' behaviour, against a real server over a real store. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, readEvents, seed, startServer, type TestServer } from './helpers.js';

let s: TestServer;
let tokens: { alice: string; bob: string; root: string };

beforeAll(async () => {
  s = await startServer();
  tokens = seed(s);
});
afterAll(async () => {
  await s?.close();
});

const create = (id: string, username: string, domain = 'acme/paris') => ({ action: 'create', kind: 'User', id, body: { domain, username } });

describe('GET /v1/state', () => {
  it('returns the live state with its revision', async () => {
    const r = await call(s.url, 'GET', '/v1/state', { token: s.adminToken });
    expect(r.status).toBe(200);
    expect(r.body.revision).toBe(s.runtime.revision());
    expect(r.body.resources.find((x: { id: string }) => x.id === 'acme/paris/jdoe')).toMatchObject({ kind: 'User', manager: 'config', updatedVia: 'plan' });
  });

  it('?company=C gives only that company', async () => {
    const r = await call(s.url, 'GET', '/v1/state?company=globex', { token: s.adminToken });
    const ids: string[] = r.body.resources.map((x: { id: string }) => x.id);
    expect(ids).toContain('globex/berlin/hans');
    expect(ids.some((i) => i.startsWith('acme'))).toBe(false);
  });
});

describe('POST /v1/changesets', () => {
  it('applies a change set and returns the new revision', async () => {
    const base = s.runtime.revision();
    const r = await call(s.url, 'POST', '/v1/changesets', { token: tokens.alice, body: { baseRevision: base, changes: [create('acme/paris/new1', 'new1')], origin: { via: 'plan', summary: 'one user' } } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ok: true, revision: base + 1, applied: 1 });
    expect(s.runtime.get('User', 'acme/paris/new1')).toMatchObject({ updatedBy: 'alice', updatedVia: 'plan' });
  });

  it('refuses a stale change set with 409 and applies nothing', async () => {
    const base = s.runtime.revision();
    const r = await call(s.url, 'POST', '/v1/changesets', { token: tokens.alice, body: { baseRevision: base - 1, changes: [create('acme/paris/stale1', 'stale1')], origin: { via: 'plan' } } });
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ ok: false, code: 'stale', revision: base });
    expect(s.runtime.revision()).toBe(base);
    expect(s.runtime.get('User', 'acme/paris/stale1')).toBeUndefined();
  });

  it('refuses an invalid change set with 422 and the problems, and applies nothing', async () => {
    const base = s.runtime.revision();
    const r = await call(s.url, 'POST', '/v1/changesets', {
      token: tokens.alice,
      body: {
        baseRevision: base,
        changes: [create('acme/paris/ok2', 'ok2'), { action: 'create', kind: 'User', id: 'acme/paris/bad2', body: { domain: 'acme/paris', username: 'bad2', fistName: 'typo' } }],
        origin: { via: 'plan' },
      },
    });
    expect(r.status).toBe(422);
    expect(r.body.ok).toBe(false);
    expect(r.body.code).toBe('invalid');
    expect(r.body.problems.length).toBeGreaterThan(0);
    expect(JSON.stringify(r.body.problems)).toContain('fistName');
    expect(s.runtime.revision()).toBe(base);
    expect(s.runtime.get('User', 'acme/paris/ok2')).toBeUndefined();
  });

  it('refuses a create of an existing resource with 409 (exists)', async () => {
    const r = await call(s.url, 'POST', '/v1/changesets', { token: tokens.alice, body: { baseRevision: s.runtime.revision(), changes: [create('acme/paris/jdoe', 'jdoe')], origin: { via: 'plan' } } });
    expect(r.status).toBe(409);
    expect(r.body.code).toBe('exists');
  });

  it.each([
    ['bad JSON', { rawBody: '{"baseRevision": 1, "changes": [' }, /not valid JSON/],
    ['an empty body', { rawBody: '' }, /empty/],
    ['not an object', { body: [1, 2] }, /invalid ChangeSet: the body must be object/],
    ['a missing field', { body: { changes: [], origin: { via: 'plan' } } }, /missing 'baseRevision'/],
    ['an unknown action', { body: { baseRevision: 0, changes: [{ action: 'upsert', kind: 'User', id: 'x', body: {} }], origin: { via: 'plan' } } }, /^invalid ChangeSet: changes\/0\/action must be one of create, update, delete$/],
    ['an unknown kind', { body: { baseRevision: 0, changes: [{ action: 'delete', kind: 'Usr', id: 'x' }], origin: { via: 'plan' } } }, /changes\/0\/kind must be one of Company/],
    ['an unknown field', { body: { baseRevision: 0, changes: [], origin: { via: 'plan' }, force: true } }, /unknown field 'force'/],
    ['via sync', { body: { baseRevision: 0, changes: [], origin: { via: 'sync' } } }, /origin\/via must be one of plan, api/],
    ['a text body', { rawBody: 'hello', headers: { 'content-type': 'text/plain' } }, /application\/json/],
  ])('answers 400 (or 415) with a clear message for %s', async (_name, request, message) => {
    const r = await call(s.url, 'POST', '/v1/changesets', { token: tokens.alice, ...request });
    expect([400, 415]).toContain(r.status);
    expect(r.body.error.message).toMatch(message);
  });
});

describe('body size limit', () => {
  it('refuses a body over the limit with 413', async () => {
    const small = await startServer({ bodyLimit: 1024 });
    try {
      const r = await call(small.url, 'POST', '/v1/fingerprints', { token: small.adminToken, body: { values: ['x'.repeat(2000)] } });
      expect(r.status).toBe(413);
      expect(r.body.error.code).toBe('payload-too-large');
    } finally {
      await small.close();
    }
  });
});

describe('POST /v1/fingerprints and /v1/impact', () => {
  it('fingerprints values in order, matching the fingerprints of the live state', async () => {
    const r = await call(s.url, 'POST', '/v1/fingerprints', { token: tokens.alice, body: { values: ['Jd0e-clear-pass-7781', 'other'] } });
    expect(r.status).toBe(200);
    expect(r.body.fingerprints).toHaveLength(2);
    expect(s.runtime.get('User', 'acme/paris/jdoe')!.body.password).toEqual({ $secret: r.body.fingerprints[0] });
  });

  it('returns the impact of each change', async () => {
    const link = s.runtime.get('PbxLink', 'acme/paris/pbx')!;
    const r = await call(s.url, 'POST', '/v1/impact', { token: tokens.alice, body: { changes: [{ action: 'update', kind: 'PbxLink', id: 'acme/paris/pbx', body: { ...link.body, ip: '192.0.2.99' } }] } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual(s.runtime.impact([{ action: 'update', kind: 'PbxLink', id: 'acme/paris/pbx', body: { ...link.body, ip: '192.0.2.99' } }]));
  });
});

describe('per-resource CRUD', () => {
  it('creates with POST (manager api, 201, Location), reads with GET (ETag), updates with PUT, deletes with DELETE', async () => {
    const created = await call(s.url, 'POST', '/v1/resources/User', { token: tokens.alice, body: { domain: 'acme/paris', username: 'crud1', firstName: 'Cru' } });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/v1/resources/User/acme%2Fparis%2Fcrud1');
    expect(created.body).toMatchObject({ kind: 'User', id: 'acme/paris/crud1', manager: 'api', updatedVia: 'api', updatedBy: 'alice' });

    const read = await call(s.url, 'GET', '/v1/resources/User/acme%2Fparis%2Fcrud1', { token: tokens.alice });
    expect(read.status).toBe(200);
    expect(read.headers.get('etag')).toBe(`"${read.body.revision}"`);
    // Unencoded slashes reach the same resource.
    expect((await call(s.url, 'GET', '/v1/resources/User/acme/paris/crud1', { token: tokens.alice })).body).toEqual(read.body);

    const stale = await call(s.url, 'PUT', '/v1/resources/User/acme%2Fparis%2Fcrud1', { token: tokens.alice, body: { ...read.body.body, lastName: 'X' }, headers: { 'if-match': `"${read.body.revision - 1}"` } });
    expect(stale.status).toBe(412);

    const updated = await call(s.url, 'PUT', '/v1/resources/User/acme%2Fparis%2Fcrud1', { token: tokens.alice, body: { ...read.body.body, lastName: 'Dupont' }, headers: { 'if-match': read.headers.get('etag')! } });
    expect(updated.status).toBe(200);
    expect(updated.body.body.lastName).toBe('Dupont');

    const deleted = await call(s.url, 'DELETE', '/v1/resources/User/acme%2Fparis%2Fcrud1', { token: tokens.alice });
    expect(deleted.status).toBe(200);
    expect(deleted.body.ok).toBe(true);
    expect((await call(s.url, 'GET', '/v1/resources/User/acme%2Fparis%2Fcrud1', { token: tokens.alice })).status).toBe(404);
    expect((await call(s.url, 'DELETE', '/v1/resources/User/acme%2Fparis%2Fcrud1', { token: tokens.alice })).status).toBe(404);
  });

  it('an API edit of a config-managed resource leaves it config-managed and drifted', async () => {
    const jdoe = s.runtime.get('User', 'acme/paris/jdoe')!;
    const r = await call(s.url, 'PUT', `/v1/resources/User/${encodeURIComponent(jdoe.id)}`, { token: tokens.alice, body: { ...jdoe.body, lastName: 'Doe' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ manager: 'config', drifted: true, updatedVia: 'api', updatedBy: 'alice' });
    // The secret was kept by sending its fingerprint back.
    expect(r.body.body.password).toEqual(jdoe.body.password);
  });

  it('PUT creates a missing resource (201) and refuses a body that describes another id (422)', async () => {
    const created = await call(s.url, 'PUT', '/v1/resources/User/acme%2Fparis%2Fput1', { token: tokens.alice, body: { domain: 'acme/paris', username: 'put1' } });
    expect(created.status).toBe(201);
    expect(created.body.manager).toBe('api');
    const renamed = await call(s.url, 'PUT', '/v1/resources/User/acme%2Fparis%2Fput1', { token: tokens.alice, body: { domain: 'acme/paris', username: 'put2' } });
    expect(renamed.status).toBe(422);
    expect(renamed.body.message).toMatch(/describes User 'acme\/paris\/put2', not 'acme\/paris\/put1'/);
  });

  it('answers an invalid resource with 422 and problems, an unknown kind with 404', async () => {
    const bad = await call(s.url, 'POST', '/v1/resources/User', { token: tokens.alice, body: { domain: 'acme/paris', username: 'bad3', devices: 'none' } });
    expect(bad.status).toBe(422);
    expect(bad.body.code).toBe('invalid');
    expect(bad.body.problems.length).toBeGreaterThan(0);
    const noId = await call(s.url, 'POST', '/v1/resources/User', { token: tokens.alice, body: { domain: 'acme/paris' } });
    expect(noId.status).toBe(422);
    const kind = await call(s.url, 'GET', '/v1/resources/Usr/acme%2Fparis%2Fjdoe', { token: tokens.alice });
    expect(kind.status).toBe(404);
    expect(kind.body.error.message).toMatch(/unknown kind 'Usr'/);
  });

  it('lists the resources of a kind', async () => {
    const r = await call(s.url, 'GET', '/v1/resources/Domain', { token: tokens.alice });
    expect(r.body.map((x: { id: string }) => x.id)).toEqual(['acme/paris']);
  });
});

describe('GET /v1/audit and /v1/status', () => {
  it('filters the audit log by via and sinceRevision, newest first, with limit', async () => {
    const r = await call(s.url, 'GET', '/v1/audit?via=api&limit=2', { token: s.adminToken });
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(2);
    expect(r.body.every((e: { via: string }) => e.via === 'api')).toBe(true);
    expect(r.body[0].revision).toBeGreaterThan(r.body[1].revision);
    const since = await call(s.url, 'GET', `/v1/audit?sinceRevision=${s.runtime.revision() - 1}`, { token: s.adminToken });
    expect(since.body.map((e: { revision: number }) => e.revision)).toEqual([s.runtime.revision()]);
    expect((await call(s.url, 'GET', '/v1/audit?limit=abc', { token: s.adminToken })).status).toBe(400);
    expect((await call(s.url, 'GET', '/v1/audit?via=mail', { token: s.adminToken })).status).toBe(400);
  });

  it('reports the status of the engines', async () => {
    const r = await call(s.url, 'GET', '/v1/status', { token: s.adminToken });
    expect(r.status).toBe(200);
    expect(r.body.revision).toBe(s.runtime.revision());
    expect(r.body).toEqual(s.runtime.status());
  });
});

describe('GET /v1/events', () => {
  it('delivers a committed change as one data: JSON event, with heartbeats', async () => {
    const { events, raw } = await readEvents(s.url, '/v1/events', tokens.alice, (ev, text) => ev.length >= 1 && text.includes(': heartbeat'), {
      onConnected: async () => {
        const r = await call(s.url, 'POST', '/v1/changesets', { token: tokens.root, body: { baseRevision: s.runtime.revision(), changes: [create('acme/paris/ev1', 'ev1')], origin: { via: 'plan' } } });
        expect(r.status).toBe(200);
      },
    });
    expect(events).toHaveLength(1);
    expect(events[0]!.event).toBe('change');
    expect(events[0]!.id).toBe(String(events[0]!.data.revision));
    expect(events[0]!.data).toMatchObject({ via: 'plan', actor: 'root', changes: [{ action: 'create', kind: 'User', id: 'acme/paris/ev1' }] });
    expect(raw).toContain(': heartbeat');
  });

  it('filters events by the principal’s companies: another company’s changes never reach them', async () => {
    const { events } = await readEvents(s.url, '/v1/events', tokens.alice, (ev) => ev.length >= 1, {
      onConnected: async () => {
        for (const [id, u, d] of [['globex/berlin/ev2', 'ev2', 'globex/berlin'], ['acme/paris/ev3', 'ev3', 'acme/paris']] as const) {
          const r = await call(s.url, 'POST', '/v1/changesets', { token: tokens.root, body: { baseRevision: s.runtime.revision(), changes: [create(id, u, d)], origin: { via: 'plan' } } });
          expect(r.status).toBe(200);
        }
      },
    });
    expect(events.map((e) => e.data.changes.map((c: { id: string }) => c.id))).toEqual([['acme/paris/ev3']]);
  });

  it('delivers changes committed by another process on the same store', async () => {
    const { Runtime } = await import('../../src/runtime/runtime.js');
    const other = await Runtime.open(s.dataDir, { startEngines: false });
    try {
      const { events } = await readEvents(s.url, '/v1/events?company=acme', tokens.alice, (ev) => ev.length >= 1, {
        onConnected: () => {
          const r = other.apply({ baseRevision: other.revision(), changes: [{ action: 'create', kind: 'User', id: 'acme/paris/ev4', body: { domain: 'acme/paris', username: 'ev4' } }], origin: { via: 'plan', actor: 'elsewhere' } });
          expect(r.ok).toBe(true);
        },
      });
      expect(events[0]!.data).toMatchObject({ actor: 'elsewhere', changes: [{ id: 'acme/paris/ev4' }] });
    } finally {
      await other.close();
    }
  });
});

describe('probes and metrics', () => {
  it('/metrics counts requests by route and status, change sets by outcome, the revision and engine states', async () => {
    const r = await call(s.url, 'GET', '/metrics', { token: s.adminToken });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/text\/plain/);
    expect(r.text).toMatch(/switchboard_http_requests_total\{method="POST",route="\/v1\/changesets",status="200"\} \d+/);
    expect(r.text).toMatch(/switchboard_changesets_total\{outcome="refused",code="stale",via="plan"\} 1/);
    expect(r.text).toMatch(/switchboard_changesets_total\{outcome="applied",code="",via="plan"\} \d+/);
    expect(r.text).toContain(`switchboard_revision ${s.runtime.revision()}`);
    for (const e of s.runtime.status().engines) expect(r.text).toContain(`switchboard_engine_state{engine="${e.name}",state="${e.state}"} 1`);
  });

  it('/readyz is 200 when ready; a closed server no longer answers', async () => {
    const t = await startServer();
    expect((await call(t.url, 'GET', '/readyz')).status).toBe(200);
    await t.close();
    await expect(call(t.url, 'GET', '/readyz')).rejects.toThrow();
  });
});
