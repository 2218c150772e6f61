/** Sync runs and caller lookup through the HTTP API (issue 7: "also via the API"). */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { call, seed, startServer, type TestServer } from './helpers.js';

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

async function withDirectory(): Promise<{ s: TestServer; alice: string; bob: string; id: string }> {
  s = await startServer();
  const { alice, bob } = seed(s);
  mkdirSync(s.runtime.filesDir, { recursive: true });
  writeFileSync(path.join(s.runtime.filesDir, 'suppliers.csv'), 'id,sn,tel\nc1,Durand,+33 1 40 00 00 02\nc2,Petit,+33 1 40 00 00 03\n');
  const body = { domain: 'acme/paris', name: 'Suppliers', serverType: 'CSV', type: 'public', priority: 1, connection: { path: 'suppliers.csv' }, fields: { identifier: 'id', lastName: 'sn', businessPhone: 'tel' } };
  const r = s.runtime.apply({ baseRevision: s.runtime.revision(), changes: [{ action: 'create', kind: 'Directory', id: 'acme/paris/Suppliers', body }], origin: { via: 'plan', actor: 'test' } });
  if (!r.ok) throw new Error(r.message);
  return { s, alice, bob, id: 'acme/paris/Suppliers' };
}

describe('POST /v1/sync/:kind/:id and GET /v1/lookup', () => {
  it('runs a directory synchronization (dry run first), then finds the caller', async () => {
    const { s, alice, id } = await withDirectory();
    const dry = await call(s.url, 'POST', `/v1/sync/Directory/${encodeURIComponent(id)}`, { token: alice, body: { dryRun: true } });
    expect(dry.status).toBe(200);
    const before = s.runtime.revision();
    expect(s.runtime.state().resources.filter((r) => r.kind === 'Contact')).toEqual([]);
    const run = await call(s.url, 'POST', `/v1/sync/Directory/${encodeURIComponent(id)}`, { token: alice, body: {} });
    expect(run.status).toBe(200);
    expect(JSON.stringify(run.body)).toMatch(/"created":2/);
    expect(s.runtime.revision()).toBe(before + 1);
    const contacts = s.runtime.state().resources.filter((r) => r.kind === 'Contact');
    expect(contacts).toHaveLength(2);
    expect(contacts.every((c) => c.manager === 'directory:Suppliers' || c.manager.startsWith('directory:'))).toBe(true);
    const found = await call(s.url, 'GET', `/v1/lookup?domain=acme%2Fparis&number=${encodeURIComponent('+33140000002')}`, { token: alice });
    expect(found.status).toBe(200);
    expect(JSON.stringify(found.body)).toContain('Durand');
  });

  it("refuses another company's admin, unknown resources and bad bodies", async () => {
    const { s, bob, alice, id } = await withDirectory();
    expect((await call(s.url, 'POST', `/v1/sync/Directory/${encodeURIComponent(id)}`, { token: bob, body: {} })).status).toBe(403);
    expect((await call(s.url, 'GET', '/v1/lookup?domain=acme%2Fparis&number=1', { token: bob })).status).toBe(403);
    expect((await call(s.url, 'POST', '/v1/sync/Directory/acme%2Fparis%2FNope', { token: alice, body: {} })).status).toBe(404);
    expect((await call(s.url, 'POST', '/v1/sync/User/acme%2Fparis%2Fjdoe', { token: alice, body: {} })).status).toBe(404);
    expect((await call(s.url, 'POST', `/v1/sync/Directory/${encodeURIComponent(id)}`, { token: alice, body: { dryRun: 'yes' } })).status).toBe(400);
    expect((await call(s.url, 'GET', '/v1/lookup?domain=acme%2Fparis', { token: alice })).status).toBe(400);
    expect((await call(s.url, 'GET', '/v1/lookup?number=1001', { token: alice })).status).toBe(400);
    const nowhere = await call(s.url, 'GET', '/v1/lookup?domain=acme%2Fnowhere&number=1001', { token: alice });
    expect(nowhere.status).toBe(404);
    expect(nowhere.body.error.message).toBe("no domain 'acme/nowhere'");
    expect((await call(s.url, 'POST', `/v1/sync/Directory/${encodeURIComponent(id)}`, { token: null, body: {} })).status).toBe(401);
  });
});

describe('a company administrator cannot make the server read its files', () => {
  it('a Directory whose CSV path leads out of the files folder is refused (422), and nothing is read', async () => {
    s = await startServer();
    const { alice } = seed(s);
    for (const p of ['/etc/passwd', '../../../../etc/passwd']) {
      const body = { domain: 'acme/paris', name: 'Leak', serverType: 'CSV', type: 'public', priority: 1, connection: { path: p }, fields: { identifier: 'id', lastName: 'sn' } };
      const r = await call(s.url, 'POST', '/v1/changesets', { token: alice, body: { baseRevision: s.runtime.revision(), changes: [{ action: 'create', kind: 'Directory', id: 'acme/paris/Leak', body }], origin: { via: 'api' } } });
      expect(r.status).toBe(422);
      expect(JSON.stringify(r.body)).toContain('csv-path-invalid');
    }
  });
});
