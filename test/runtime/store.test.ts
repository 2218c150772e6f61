import Database from 'better-sqlite3';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DB_FILE, MIGRATIONS, Store } from '../../src/runtime/store.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { bulkUsers, changeSet, companyAndDomain, creates, open, quickstart, tempDir } from './helpers.js';

const opened: Runtime[] = [];
afterEach(async () => {
  for (const rt of opened.splice(0)) await rt.close();
});
async function fresh(dir = tempDir()): Promise<Runtime> {
  const rt = await open(dir);
  opened.push(rt);
  return rt;
}

describe('store', () => {
  it('is created from empty: schema version, WAL, tables, revision 0, private files', async () => {
    const dir = tempDir();
    const rt = await fresh(dir);
    expect(rt.revision()).toBe(0);
    expect(rt.state()).toEqual({ revision: 0, resources: [] });
    expect(rt.audit()).toEqual([]);
    const db = new Database(path.join(dir, DB_FILE), { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).pluck().all();
      expect(tables).toEqual(['audit', 'meta', 'resources', 'tokens']);
    } finally {
      db.close();
    }
    expect(statSync(path.join(dir, DB_FILE)).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o077).toBe(0);
  });

  it('migrations run once: reopening keeps the data and the version', async () => {
    const dir = tempDir();
    const rt = await open(dir);
    expect(rt.apply(changeSet(0, companyAndDomain('acme'))).ok).toBe(true);
    await rt.close();
    const again = await fresh(dir);
    expect(again.revision()).toBe(1);
    expect(again.state().resources.map((r) => r.id)).toEqual(['acme', 'acme/site']);
  });

  it('refuses a store written by a newer Switchboard', () => {
    const file = path.join(tempDir(), DB_FILE);
    const db = new Database(file);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => Store.open(file)).toThrow(/newer than this Switchboard knows/);
  });

  it('bumps the revision once per committed change set, with one audit entry each', async () => {
    const rt = await fresh();
    const qs = quickstart();
    expect(rt.apply(changeSet(0, creates(qs)))).toEqual({ ok: true, revision: 1, applied: qs.length });
    const user = qs.find((r) => r.kind === 'User')!;
    expect(rt.apply(changeSet(1, [{ action: 'update', kind: 'User', id: user.id, body: { ...user.body, firstName: 'Changed' } }]))).toEqual({ ok: true, revision: 2, applied: 1 });
    expect(rt.apply(changeSet(2, [{ action: 'delete', kind: 'User', id: 'acme/paris/emma' }, { action: 'update', kind: 'Group', id: 'acme/paris/All', body: { domain: 'acme/paris', name: 'All', members: ['alice', 'bruno', 'chloe', 'david'] } }]))).toMatchObject({ ok: true, revision: 3 });
    expect(rt.revision()).toBe(3);
    expect(rt.audit().map((a) => a.revision)).toEqual([3, 2, 1]);
    expect(rt.get('User', user.id)).toMatchObject({ revision: 2, body: { firstName: 'Changed' } });
    expect(rt.get('User', 'acme/paris/emma')).toBeUndefined();
  });

  it('keeps the audit log append-only (triggers refuse UPDATE and DELETE)', async () => {
    const dir = tempDir();
    const rt = await fresh(dir);
    rt.apply(changeSet(0, companyAndDomain('acme')));
    const db = new Database(path.join(dir, DB_FILE));
    try {
      expect(() => db.prepare(`UPDATE audit SET actor = 'mallory'`).run()).toThrow(/append-only/);
      expect(() => db.prepare(`DELETE FROM audit`).run()).toThrow(/append-only/);
      expect(db.prepare('SELECT count(*) FROM audit').pluck().get()).toBe(1);
    } finally {
      db.close();
    }
  });

  it('records who, when, how, the plan digest and git commit, before and after', async () => {
    const rt = await fresh();
    rt.apply({ baseRevision: 0, changes: companyAndDomain('acme'), origin: { via: 'plan', actor: 'ci', planDigest: 'sha256:abc', gitCommit: '0123abc', gitDirty: false, summary: '2 to create' } });
    rt.apply({ baseRevision: 1, changes: [{ action: 'update', kind: 'Domain', id: 'acme/site', body: { company: 'acme', name: 'site', internalLength: 4 } }], origin: { via: 'api' } }, { username: 'root', superUser: true, companies: [] });
    const [second, first] = rt.audit();
    expect(first).toMatchObject({ revision: 1, actor: 'ci', via: 'plan', planDigest: 'sha256:abc', gitCommit: '0123abc', gitDirty: false, summary: '2 to create' });
    expect(first!.changes).toEqual([
      { action: 'create', kind: 'Company', id: 'acme', after: { name: 'acme' } },
      { action: 'create', kind: 'Domain', id: 'acme/site', after: { company: 'acme', name: 'site', internalLength: 5 } },
    ]);
    expect(second).toMatchObject({ revision: 2, actor: 'root', via: 'api' });
    expect(second!.changes).toEqual([{ action: 'update', kind: 'Domain', id: 'acme/site', before: { company: 'acme', name: 'site', internalLength: 5 }, after: { company: 'acme', name: 'site', internalLength: 4 } }]);
    expect(rt.audit({ via: 'plan' }).map((a) => a.revision)).toEqual([1]);
    expect(rt.audit({ sinceRevision: 1 }).map((a) => a.revision)).toEqual([2]);
    expect(rt.audit({ limit: 1 }).map((a) => a.revision)).toEqual([2]);
    expect(new Date(first!.at).getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it('creates the data directory and the key file on first start', async () => {
    const dir = path.join(tempDir(), 'nested', 'data');
    await fresh(dir);
    expect(existsSync(path.join(dir, DB_FILE))).toBe(true);
    expect(readFileSync(path.join(dir, 'secret.key')).length).toBe(32);
  });
});

describe('audit encoding', () => {
  const input = (n: number) => ({
    actions: Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 'create' : i % 3 === 1 ? 'update' : 'delete')),
    kinds: Array.from({ length: n }, () => 'User'),
    ids: Array.from({ length: n }, (_, i) => `acme/site/u"${i}`),
    before: Array.from({ length: n }, (_, i) => (i % 3 === 0 ? null : JSON.stringify({ n: i, password: '(sensitive)' }))),
    after: Array.from({ length: n }, (_, i) => (i % 3 === 2 ? null : JSON.stringify({ n: i + 1 }))),
  });

  it('the worker and this thread produce the same stored payloads, deflated above 64 KiB', async () => {
    const { AuditEncoder, encodeAudit, jsonOf, COMPRESS_ABOVE } = await import('../../src/runtime/store.js');
    const { deflateSync } = await import('node:zlib');
    const encoder = new AuditEncoder();
    try {
      for (const n of [3, 20_000]) {
        const here = encodeAudit(input(n), deflateSync, COMPRESS_ABOVE);
        const there = encoder.start(input(n))();
        expect(jsonOf(there.changes)).toBe(jsonOf(here.changes));
        expect(jsonOf(there.touched)).toBe(jsonOf(here.touched));
        expect(typeof there.changes === 'string').toBe(n === 3);
        const changes = JSON.parse(jsonOf(here.changes)) as unknown[];
        expect(changes).toHaveLength(n);
        expect(changes[1]).toEqual({ action: 'update', kind: 'User', id: 'acme/site/u"1', before: { n: 1, password: '(sensitive)' }, after: { n: 2 } });
      }
      // A result never taken (a refused change set) does not confuse the next one.
      encoder.start(input(5));
      expect(JSON.parse(jsonOf(encoder.start(input(7))().changes))).toHaveLength(7);
    } finally {
      await encoder.close();
    }
  });

  it('a 10,000-change audit entry reads back whole', async () => {
    const rt = await fresh();
    expect(rt.apply(changeSet(0, [...companyAndDomain('acme'), ...bulkUsers('acme', 10_000)]))).toMatchObject({ ok: true });
    const [entry] = rt.audit({ limit: 1 });
    expect(entry!.changes).toHaveLength(10_002);
    expect(entry!.changes[2]).toMatchObject({ action: 'create', kind: 'User', id: 'acme/site/u00000', after: { username: 'u00000' } });
  }, 30_000);
});
