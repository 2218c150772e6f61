/**
 * The user import against a real slapd and a real runtime (SQLite in a temp dir): each sync
 * mode, the AD preset, safety (zero entries, the 30% threshold, slapd stopped mid-run), dry run,
 * an unchanged re-run that writes nothing, ownership, the dial plan.
 */
import { createServer, connect, type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/runtime/runtime.js';
import { UserImportEngine } from '../../src/runtime/engines/user-import.js';
import type { LiveResource } from '../../src/runtime/types.js';
import { runHistory, runUserImport } from '../../src/sync/run.js';
import { changeSet, creates, open, quickstart, tempDir } from '../runtime/helpers.js';
import { ADMIN_DN, ADMIN_PASSWORD, destroySlapd, hasSlapd, PEOPLE, person, startSlapd, type Person, type Slapd } from './slapd.js';

const ID = 'acme/paris/ad';

describe.skipIf(!hasSlapd())('user import against slapd', () => {
  let slapd: Slapd;
  const base = Array.from({ length: 20 }, (_, i) => person(i));
  beforeAll(async () => {
    slapd = await startSlapd(base);
  });
  afterAll(async () => destroySlapd(slapd));
  const opened: Runtime[] = [];
  afterEach(async () => {
    for (const rt of opened.splice(0)) await rt.close();
  });

  function importBody(over: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      domain: 'acme/paris',
      name: 'ad',
      source: 'activeDirectory',
      syncMode: 'insertUpdateDelete',
      connection: { host: slapd.host, port: slapd.port, login: ADMIN_DN, password: ADMIN_PASSWORD, baseDn: PEOPLE, filter: '(objectClass=inetOrgPerson)', pageSize: 7, timeoutSeconds: 5 },
      deviceDefaults: { protocol: 'CSTA' },
      ...over,
    };
  }
  async function runtimeWith(over: Record<string, unknown> = {}): Promise<Runtime> {
    const rt = await open(tempDir(), { startEngines: false });
    opened.push(rt);
    expect(rt.apply(changeSet(0, creates(quickstart())))).toMatchObject({ ok: true });
    if (typeof over.group === 'string') {
      // A group the import owns (it adds its users to it); a config-owned group is left alone.
      const group = { action: 'create' as const, kind: 'Group' as const, id: `acme/paris/${over.group}`, body: { domain: 'acme/paris', name: over.group, members: [] }, manager: 'import:ad' as const };
      expect(rt.apply(changeSet(1, [group], 'sync'))).toMatchObject({ ok: true });
    }
    const r = rt.apply(changeSet(rt.revision(), [{ action: 'create', kind: 'UserImport', id: ID, body: importBody(over) }]));
    expect(r).toMatchObject({ ok: true });
    return rt;
  }
  const imported = (rt: Runtime): LiveResource[] => rt.state().resources.filter((r) => r.kind === 'User' && r.manager === 'import:ad');
  const setImport = (rt: Runtime, over: Record<string, unknown>) => {
    const cur = rt.get('UserImport', ID)!;
    expect(rt.apply(changeSet(rt.revision(), [{ action: 'update', kind: 'UserImport', id: ID, body: { ...importBody(over), connection: { ...(importBody(over).connection as object), password: cur.body.connection && (cur.body.connection as Record<string, unknown>).password } } }]))).toMatchObject({ ok: true });
  };

  it('insertUpdateDelete: creates with the AD preset and device defaults; an unchanged re-run writes nothing', async () => {
    const rt = await runtimeWith({ culture: 'fr-FR' });
    const first = await runUserImport(rt, ID);
    expect(first).toMatchObject({ outcome: 'applied', sourceEntries: 20, counts: { created: 20, updated: 0, deleted: 0, errors: 0 } });
    const u = rt.get('User', 'acme/paris/user00003')!;
    expect(u).toMatchObject({ manager: 'import:ad', updatedVia: 'sync', updatedBy: 'import:ad' });
    expect(u.body).toEqual({ domain: 'acme/paris', username: 'user00003', firstName: 'First00003', lastName: 'Last00003', email: 'user00003@example.com', culture: 'fr-FR', devices: [{ number: '20003', protocol: 'CSTA' }] });
    // Config-owned users are untouched.
    expect(rt.get('User', 'acme/paris/alice')!.manager).toBe('config');
    const revision = rt.revision();
    const again = await runUserImport(rt, ID);
    expect(again).toMatchObject({ outcome: 'unchanged', counts: { created: 0, updated: 0, unchanged: 20 } });
    expect(rt.revision()).toBe(revision);
    expect(rt.audit({ sinceRevision: revision })).toHaveLength(0);
    expect(runHistory(rt.dataDir, 'UserImport', ID).map((r) => r.outcome)).toEqual(['unchanged', 'applied']);
  });

  it('updates changed entries, deletes removed ones (insertUpdateDelete), matched by objectGUID across a rename', async () => {
    const rt = await runtimeWith();
    await runUserImport(rt, ID);
    const next: Person[] = base.filter((p) => p.uid !== 'user00019');
    next[0] = { ...next[0]!, sn: 'Changed' };
    next[1] = { ...next[1]!, uid: 'renamed01' }; // same objectGUID
    await slapd.reload(next);
    try {
      const r = await runUserImport(rt, ID);
      expect(r).toMatchObject({ outcome: 'applied', counts: { created: 0, updated: 2, deleted: 1 } });
      expect(rt.get('User', 'acme/paris/user00000')!.body.lastName).toBe('Changed');
      expect(rt.get('User', 'acme/paris/user00001')).toBeUndefined();
      expect(rt.get('User', 'acme/paris/renamed01')!.body.devices).toEqual([{ number: '20001', protocol: 'CSTA' }]);
      expect(rt.get('User', 'acme/paris/user00019')).toBeUndefined();
      expect(imported(rt)).toHaveLength(19);
    } finally {
      await slapd.reload(base);
    }
  });

  it('insertUpdateDisable disables removed users; insertUpdate keeps them; updateOnly creates nobody', async () => {
    const rt = await runtimeWith({ syncMode: 'insertUpdateDisable' });
    await runUserImport(rt, ID);
    await slapd.reload(base.slice(0, 18));
    try {
      const r = await runUserImport(rt, ID);
      expect(r).toMatchObject({ outcome: 'applied', counts: { disabled: 2, deleted: 0 } });
      expect(rt.get('User', 'acme/paris/user00019')!.body.enabled).toBe(false);
      setImport(rt, { syncMode: 'insertUpdate' });
      await slapd.reload(base.slice(0, 16));
      const keep = await runUserImport(rt, ID);
      expect(keep.outcome).toBe('unchanged');
      expect(rt.get('User', 'acme/paris/user00017')!.body.enabled).toBeUndefined();
    } finally {
      await slapd.reload(base);
    }
    // A reappearing user is enabled again.
    setImport(rt, { syncMode: 'updateOnly' });
    const back = await runUserImport(rt, ID);
    expect(back.counts).toMatchObject({ created: 0, updated: 2 });
    expect(rt.get('User', 'acme/paris/user00019')!.body.enabled).toBeUndefined();
  });

  it('updateOnly never creates', async () => {
    const rt = await runtimeWith({ syncMode: 'updateOnly' });
    const r = await runUserImport(rt, ID);
    expect(r).toMatchObject({ outcome: 'unchanged', counts: { created: 0, ignored: 20 } });
    expect(imported(rt)).toHaveLength(0);
  });

  it('a filter typo → zero results → nothing deleted, run refused', async () => {
    const rt = await runtimeWith();
    await runUserImport(rt, ID);
    setImport(rt, { connection: { ...(importBody().connection as object), filter: '(objectClass=inetOrgPersn)' } });
    const revision = rt.revision();
    const r = await runUserImport(rt, ID);
    expect(r.outcome).toBe('refused');
    expect(r.message).toMatch(/no entries/);
    expect(rt.revision()).toBe(revision);
    expect(imported(rt)).toHaveLength(20);
  });

  it('removing more than 30% of the managed users is refused; a dry run shows the changes and writes nothing', async () => {
    const rt = await runtimeWith();
    await runUserImport(rt, ID);
    const revision = rt.revision();
    await slapd.reload(base.slice(0, 13)); // 7 of 20 = 35%
    try {
      const r = await runUserImport(rt, ID);
      expect(r).toMatchObject({ outcome: 'refused', counts: { deleted: 7 } });
      expect(r.message).toMatch(/7 of the 20 users it manages \(35\.0%\), over the 30% threshold/);
      expect(rt.revision()).toBe(revision);
      const dry = await runUserImport(rt, ID, { dryRun: true, maxRemovePercent: 50 });
      expect(dry.outcome).toBe('dry-run');
      expect(dry.changes!.filter((c) => c.action === 'delete')).toHaveLength(7);
      expect(rt.revision()).toBe(revision);
      const ok = await runUserImport(rt, ID, { maxRemovePercent: 50 });
      expect(ok.outcome).toBe('applied');
      expect(imported(rt)).toHaveLength(13);
    } finally {
      await slapd.reload(base);
    }
  });

  it('slapd stopped mid-run → the run fails and nothing changes', async () => {
    // A loopback proxy in front of slapd that stops slapd once the search's first pages went through.
    let chunks = 0;
    let armed = false;
    const proxy = createServer((client) => {
      const upstream = connect(slapd.port, slapd.host);
      client.on('data', (d) => upstream.write(d));
      upstream.on('data', (d) => {
        client.write(d);
        if (armed && ++chunks === 4) void slapd.stop();
      });
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const proxyPort = (proxy.address() as AddressInfo).port;
    try {
      const rt = await runtimeWith({ connection: { ...(importBody().connection as object), port: proxyPort, pageSize: 1 } });
      expect((await runUserImport(rt, ID)).outcome).toBe('applied');
      const before = rt.state().resources.filter((r) => r.kind === 'User');
      const revision = rt.revision();
      await slapd.reload(base.slice(0, 15).map((p) => ({ ...p, sn: 'Other' })));
      armed = true;
      const failed = await runUserImport(rt, ID);
      expect(failed.outcome).toBe('failed');
      expect(failed.message).toMatch(/nothing was changed/);
      expect(rt.revision()).toBe(revision);
      expect(rt.state().resources.filter((r) => r.kind === 'User')).toEqual(before);
    } finally {
      proxy.close();
      await slapd.reload(base);
    }
  });

  it('a server that stops answering mid-search → timeout → nothing changes', async () => {
    // A loopback proxy that swallows everything slapd sends after the first pages.
    let chunks = 0;
    let armed = false;
    const proxy = createServer((client) => {
      const upstream = connect(slapd.port, slapd.host);
      client.on('data', (d) => upstream.write(d));
      upstream.on('data', (d) => {
        if (!armed || ++chunks <= 3) client.write(d);
      });
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const rt = await runtimeWith({ connection: { ...(importBody().connection as object), port: (proxy.address() as AddressInfo).port, pageSize: 2, timeoutSeconds: 1 } });
      expect((await runUserImport(rt, ID)).outcome).toBe('applied');
      await slapd.reload(base.slice(0, 15).map((p) => ({ ...p, sn: 'Other' })));
      const revision = rt.revision();
      armed = true;
      const t0 = Date.now();
      const r = await runUserImport(rt, ID);
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(r.outcome).toBe('failed');
      expect(r.message).toMatch(/nothing was changed/);
      expect(rt.revision()).toBe(revision);
      expect(imported(rt).map((u) => u.body.lastName)).not.toContain('Other');
    } finally {
      proxy.close();
      await slapd.reload(base);
    }
  });

  it('never touches a user managed by config with the same username, and its numbers stay unique', async () => {
    const rt = await runtimeWith();
    const people = [...base, person(100, { uid: 'alice' }), person(101, { telephoneNumber: '1001' })];
    await slapd.reload(people);
    try {
      const r = await runUserImport(rt, ID);
      expect(r.counts).toMatchObject({ created: 20, ignored: 1, errors: 1 });
      expect(rt.get('User', 'acme/paris/alice')!.manager).toBe('config');
      expect(rt.get('User', 'acme/paris/user00101')).toBeUndefined();
      expect(r.notes.map((n) => n.message).join('\n')).toMatch(/managed by config: the import never touches it[\s\S]*number 1001 is already used/);
    } finally {
      await slapd.reload(base);
    }
  });

  it('entries without a phone number are ignored and counted; AD-disabled accounts are not created; groups; plain LDAP mapping', async () => {
    const rt = await runtimeWith({
      source: 'ldap',
      mapping: { identifier: 'employeeNumber', username: 'uid', mobile: 'mobile', reserved0: 'departmentNumber' },
      group: 'Imported',
    });
    await slapd.reload([person(1, { telephoneNumber: undefined }), person(2, { mobile: '+33 6 12 34 56 78', extra: { departmentNumber: 'R&D' } }), person(3)]);
    try {
      const r = await runUserImport(rt, ID);
      expect(r.counts).toMatchObject({ created: 2, ignored: 1 });
      expect(rt.get('User', 'acme/paris/user00002')!.body).toMatchObject({ mobile: '+33 6 12 34 56 78', reserved0: 'R&D' });
      expect(rt.get('Group', 'acme/paris/Imported')).toMatchObject({ manager: 'import:ad', body: { members: ['user00002', 'user00003'] } });
    } finally {
      await slapd.reload(base);
    }
    const ad = await runtimeWith();
    await slapd.reload([person(1), person(2, { uac: 514 })]);
    try {
      const r = await runUserImport(ad, ID);
      expect(r.counts).toMatchObject({ created: 1, ignored: 1 });
    } finally {
      await slapd.reload(base);
    }
  });

  it('adapts numbers to the dial plan (incoming rules)', async () => {
    const rt = await runtimeWith({ adaptNumbersToDialPlan: true });
    const plan = rt.get('DialPlan', 'acme/paris')!;
    expect(rt.apply(changeSet(rt.revision(), [{ action: 'update', kind: 'DialPlan', id: 'acme/paris', body: { ...plan.body, incoming: [{ priority: 1, pattern: '+3312345', value: '' }] } }]))).toMatchObject({ ok: true });
    await slapd.reload([person(1, { telephoneNumber: '+33 1 23 45 67 89' }), person(2, { telephoneNumber: '+44 20 7946 0000' })]);
    try {
      const r = await runUserImport(rt, ID);
      expect(r.counts).toMatchObject({ created: 1, errors: 1 });
      expect(rt.get('User', 'acme/paris/user00001')!.body.devices).toEqual([{ number: '6789', protocol: 'CSTA' }]);
      expect(r.notes.map((n) => n.message).join('\n')).toMatch(/\+44 20 7946 0000/);
    } finally {
      await slapd.reload(base);
    }
  });
});

describe.skipIf(!hasSlapd())('user-import engine', () => {
  let slapd: Slapd;
  beforeAll(async () => {
    slapd = await startSlapd(Array.from({ length: 3 }, (_, i) => person(i)));
  });
  afterAll(async () => destroySlapd(slapd));

  it('reports each import with its schedule, next run and last run (start, end, counts)', async () => {
    let rt: Runtime | undefined;
    const engine = new UserImportEngine(() => rt);
    rt = await open(tempDir(), { engines: [engine] });
    try {
      const body = {
        domain: 'acme/paris',
        name: 'ad',
        source: 'activeDirectory',
        schedule: { mode: 'interval', every: '2h' },
        connection: { host: slapd.host, port: slapd.port, login: ADMIN_DN, password: ADMIN_PASSWORD, baseDn: PEOPLE, filter: 'objectClass=person' },
      };
      expect(rt.apply(changeSet(0, [...creates(quickstart()), { action: 'create', kind: 'UserImport', id: ID, body }]))).toMatchObject({ ok: true });
      const status = () => rt!.status().engines.find((e) => e.name === 'user-import')!;
      await until(() => ((status().details?.imports as unknown[]) ?? []).length === 1);
      const [before] = status().details!.imports as Record<string, unknown>[];
      expect(before).toMatchObject({ id: ID, company: 'acme', schedule: { mode: 'interval', every: '2h' }, running: false });
      const next = Date.parse(before!.nextRun as string) - Date.now();
      expect(next).toBeGreaterThan(7_000_000);
      expect(next).toBeLessThanOrEqual(7_200_000);
      const record = await engine.runNow(ID);
      expect(record).toMatchObject({ outcome: 'applied', counts: { created: 3 } });
      const [after] = status().details!.imports as Record<string, unknown>[];
      expect(after!.lastRun).toMatchObject({ outcome: 'applied', created: 3, updated: 0, deleted: 0, disabled: 0, ignored: 0, errors: 0 });
      expect(typeof (after!.lastRun as Record<string, unknown>).startedAt).toBe('string');
      expect(JSON.stringify(rt.status())).not.toContain(ADMIN_PASSWORD);
    } finally {
      await rt.close();
    }
  });
});

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
