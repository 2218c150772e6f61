import { afterEach, describe, expect, it } from 'vitest';
import type { KindName } from '../../src/model/kinds.js';
import type { CommittedEvent, Principal } from '../../src/runtime/core.js';
import type { Engine, EngineContext, EngineReport } from '../../src/runtime/engines.js';
import { PbxLinksEngine } from '../../src/runtime/engines/pbx-links.js';
import { nextRun, SyncSchedulesEngine } from '../../src/runtime/engines/sync-schedules.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { LiveResource } from '../../src/runtime/types.js';
import { bulkUsers, changeSet, child, companyAndDomain, creates, CSTA_PASSWORD, open, quickstart, tempDir, until, writeJson } from './helpers.js';

const opened: Runtime[] = [];
afterEach(async () => {
  for (const rt of opened.splice(0)) await rt.close();
});

/** An engine that records what it is given and can be told to fail. */
class Recorder implements Engine {
  readonly kinds: readonly KindName[];
  starts: number[] = [];
  events: CommittedEvent[] = [];
  live: readonly LiveResource[] = [];
  failStarts = 0;
  failNextChange = false;
  stops = 0;
  constructor(
    readonly name: string,
    kinds: readonly KindName[],
  ) {
    this.kinds = kinds;
  }
  async start(_ctx: EngineContext, live: readonly LiveResource[]): Promise<void> {
    this.starts.push(Date.now());
    this.live = live;
    if (this.failStarts > 0) {
      this.failStarts--;
      throw new Error('cannot reach the PBX');
    }
  }
  async onChange(event: CommittedEvent, live: readonly LiveResource[]): Promise<void> {
    if (this.failNextChange) {
      this.failNextChange = false;
      throw new Error('boom');
    }
    this.events.push(event);
    this.live = live;
  }
  status(): EngineReport {
    return { state: 'running', details: { seen: this.live.length } };
  }
  async stop(): Promise<void> {
    this.stops++;
  }
}

const engineState = (rt: Runtime, name: string) => rt.status().engines.find((e) => e.name === name)!;

describe('engine host', () => {
  it('starts engines with the live resources of their kinds and delivers only their changes', async () => {
    const dir = tempDir();
    const seed = await open(dir, { startEngines: false });
    seed.apply(changeSet(0, creates(quickstart())));
    await seed.close();
    const users = new Recorder('users', ['User']);
    const links = new Recorder('links', ['PbxLink']);
    const rt = await open(dir, { engines: [users, links] });
    opened.push(rt);
    expect(users.live.map((r) => r.id)).toEqual(['acme/paris/alice', 'acme/paris/bruno', 'acme/paris/chloe', 'acme/paris/david', 'acme/paris/emma']);
    expect(links.live.map((r) => r.kind)).toEqual(['PbxLink']);
    const alice = rt.get('User', 'acme/paris/alice')!;
    rt.apply(changeSet(1, [{ action: 'update', kind: 'User', id: alice.id, body: { ...alice.body, firstName: 'A' } }, { action: 'update', kind: 'Domain', id: 'acme/paris', body: { ...rt.get('Domain', 'acme/paris')!.body, internalLength: 5 } }]));
    await until(() => users.events.length === 1, 2000, 'delivery');
    expect(users.events[0]!.changes).toEqual([{ action: 'update', kind: 'User', id: 'acme/paris/alice', company: 'acme' }]);
    expect(users.live.find((r) => r.id === alice.id)!.body.firstName).toBe('A');
    expect(links.events).toEqual([]);
  });

  it('isolates an engine that throws: failed, restarted with growing backoff, the others keep running', async () => {
    const dir = tempDir();
    const flaky = new Recorder('flaky', ['User']);
    const steady = new Recorder('steady', ['User']);
    flaky.failStarts = 3;
    const rt = await open(dir, { engines: [flaky, steady], engineHost: { initialBackoffMs: 40, maxBackoffMs: 160 } });
    opened.push(rt);
    expect(engineState(rt, 'flaky')).toMatchObject({ state: 'backoff', restarts: 0, message: expect.stringContaining('failed: cannot reach the PBX; restarting in 40 ms') as string });
    expect(engineState(rt, 'steady')).toMatchObject({ state: 'running', restarts: 0 });
    // The steady engine keeps receiving changes while the other is down.
    rt.apply(changeSet(0, [...companyAndDomain('acme'), ...bulkUsers('acme', 2)]));
    await until(() => steady.events.length === 1, 2000, 'steady delivery');
    await until(() => engineState(rt, 'flaky').state === 'running', 5000, 'flaky restarted');
    expect(engineState(rt, 'flaky').restarts).toBe(3);
    const gaps = flaky.starts.slice(1).map((t, i) => t - flaky.starts[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(35);
    expect(gaps[1]).toBeGreaterThanOrEqual(75);
    expect(gaps[2]).toBeGreaterThanOrEqual(150);
    expect(flaky.stops).toBe(3); // stopped before each restart
    // Restarted from the live state: it saw the users committed while it was down.
    expect(flaky.live.map((r) => r.id)).toEqual(['acme/site/u00000', 'acme/site/u00001']);
    // A failure in onChange is isolated the same way.
    flaky.failNextChange = true;
    rt.apply(changeSet(1, bulkUsers('acme', 1, 'x', 30000)));
    await until(() => engineState(rt, 'flaky').state === 'backoff', 2000, 'flaky failed on change');
    await until(() => steady.events.length === 2, 2000, 'steady second delivery');
    await until(() => engineState(rt, 'flaky').state === 'running', 2000, 'flaky back');
    expect(flaky.live).toHaveLength(3);
  });

  it("delivers another process's commits to engines", async () => {
    const dir = tempDir();
    const users = new Recorder('users', ['User']);
    const rt = await open(dir, { engines: [users], pollIntervalMs: 50 });
    opened.push(rt);
    const c = child(['apply', dir, writeJson(dir, 'cs.json', changeSet(0, [...companyAndDomain('acme'), ...bulkUsers('acme', 4)]))]);
    await c.line((l) => l.startsWith('result '));
    await c.exited;
    await until(() => users.events.length === 1, 5000, 'cross-process delivery');
    expect(users.events[0]!.changes).toHaveLength(4);
    expect(users.live).toHaveLength(4);
  }, 30_000);

  it('a reopened runtime restores its engines from the store', async () => {
    const dir = tempDir();
    const first = await open(dir);
    first.apply(changeSet(0, creates(quickstart())));
    await first.close();
    const rt = await open(dir);
    opened.push(rt);
    const links = engineState(rt, 'pbx-links');
    expect(links.state).toBe('running');
    // The CSTA link is being connected (192.0.2.10 is TEST-NET: nothing answers) for its 5 extensions.
    expect(links.details).toMatchObject({
      links: [{ id: 'acme/paris/pbx', company: 'acme', domain: 'acme/paris', name: 'pbx', protocol: 'csta', host: '192.0.2.10', port: 3211, connected: false, current: 0, wanted: 5, total: 100, state: 'connecting' }],
      unsupervised: [],
    });
  });

  it('the embedded-style runtime does not start engines but reports them', async () => {
    const rt = await open(tempDir(), { startEngines: false });
    opened.push(rt);
    expect(rt.status().engines.map((e) => [e.name, e.state])).toEqual([
      ['pbx-links', 'stopped'],
      ['sync-schedules', 'stopped'],
      ['user-import', 'stopped'],
      ['directory-sync', 'stopped'],
    ]);
  });

  it("filters engine details to a company admin's companies", async () => {
    const rt = await open(tempDir());
    opened.push(rt);
    rt.apply(changeSet(0, creates(quickstart())));
    rt.apply(
      changeSet(1, [
        ...companyAndDomain('globex'),
        { action: 'create', kind: 'PbxLink', id: 'globex/site/pbx', body: { domain: 'globex/site', name: 'pbx', protocol: 'csta', ip: '198.51.100.1', port: 3211 } },
      ]),
    );
    await until(() => (engineState(rt, 'pbx-links').details!.links as unknown[]).length === 2, 2000, 'links');
    const admin: Principal = { username: 'g', superUser: false, companies: ['globex'] };
    const seen = rt.status(admin).engines.find((e) => e.name === 'pbx-links')!.details!.links as { id: string }[];
    expect(seen.map((l) => l.id)).toEqual(['globex/site/pbx']);
  });
});

describe('impact', () => {
  async function withQuickstart(): Promise<Runtime> {
    const rt = await open(tempDir(), { startEngines: false });
    opened.push(rt);
    rt.apply(changeSet(0, creates(quickstart())));
    return rt;
  }

  it('a PBX link whose IP changes restarts, interrupting the extensions it supervises', async () => {
    const rt = await withQuickstart();
    const link = rt.get('PbxLink', 'acme/paris/pbx')!;
    expect(rt.impact([{ action: 'update', kind: 'PbxLink', id: link.id, body: { ...link.body, ip: '192.0.2.11' } }])).toEqual([
      { index: 0, facts: [{ type: 'restart', engine: 'pbx-links', target: 'PbxLink acme/paris/pbx', reason: 'ip changed: the link reconnects', extensionsInterrupted: 5 }] },
    ]);
    // Same password as a value (what a plan sends): no change. A new password: restart.
    expect(rt.impact([{ action: 'update', kind: 'PbxLink', id: link.id, body: { ...link.body, password: CSTA_PASSWORD, capacity: 300 } }])).toEqual([]);
    expect(rt.impact([{ action: 'update', kind: 'PbxLink', id: link.id, body: { ...link.body, password: 'other-Pa55' } }])[0]!.facts[0]).toMatchObject({ type: 'restart', reason: 'password changed: the link reconnects' });
    // Deleted: supervision stops, and the devices (which name the link) stay configured, not supervised.
    expect(rt.impact([{ action: 'delete', kind: 'PbxLink', id: link.id }])).toEqual([
      {
        index: 0,
        facts: [
          { type: 'supervision-stop', engine: 'pbx-links', extensions: ['1001', '1002', '1003', '1004', '1005'] },
          { type: 'not-supervised', engine: 'pbx-links', extensions: ['1001', '1002', '1003', '1004', '1005'], reason: "no link 'pbx' in domain acme/paris" },
        ],
      },
    ]);
  });

  it('devices added and removed start and stop supervision', async () => {
    const rt = await withQuickstart();
    const alice = rt.get('User', 'acme/paris/alice')!;
    const devices = alice.body.devices as object[];
    const impact = rt.impact([
      { action: 'create', kind: 'User', id: 'acme/paris/zoe', body: { domain: 'acme/paris', username: 'zoe', devices: [{ number: '1010', protocol: 'CSTA' }] } },
      { action: 'update', kind: 'User', id: alice.id, body: { ...alice.body, devices: [...devices, { number: '1011', protocol: 'CSTA', link: 'pbx' }] } },
      { action: 'update', kind: 'User', id: alice.id, body: { ...alice.body, firstName: 'A' } },
      { action: 'delete', kind: 'User', id: 'acme/paris/bruno' },
      { action: 'create', kind: 'IntercomGroup', id: 'acme/paris/ic', body: { domain: 'acme/paris', name: 'ic', devices: [{ number: '6674', protocol: 'CSTA', count: 2 }] } },
    ]);
    expect(impact).toEqual([
      { index: 0, facts: [{ type: 'supervision-start', engine: 'pbx-links', extensions: ['1010'] }] },
      { index: 1, facts: [{ type: 'supervision-start', engine: 'pbx-links', extensions: ['1011'] }] },
      { index: 3, facts: [{ type: 'supervision-stop', engine: 'pbx-links', extensions: ['1002'] }] },
      { index: 4, facts: [{ type: 'supervision-start', engine: 'pbx-links', extensions: ['6674', '6675'] }] },
    ]);
  });

  it('imports and directories re-run when their connection, mapping, filter or fields change', async () => {
    const rt = await withQuickstart();
    const imp = { domain: 'acme/paris', name: 'ad', source: 'activeDirectory', connection: { host: 'dc1', port: 389, login: 'svc', password: 'ldap-Pa55', baseDn: 'dc=acme', filter: '(objectClass=user)' }, schedule: { mode: 'interval', every: '30m' } };
    expect(rt.impact([{ action: 'create', kind: 'UserImport', id: 'acme/paris/ad', body: imp }])).toEqual([
      { index: 0, facts: [{ type: 'sync-rerun', engine: 'sync-schedules', target: 'UserImport acme/paris/ad', reason: 'new: runs a first synchronization' }] },
    ]);
    expect(rt.apply(changeSet(1, [{ action: 'create', kind: 'UserImport', id: 'acme/paris/ad', body: imp }]))).toMatchObject({ ok: true });
    const live = rt.get('UserImport', 'acme/paris/ad')!;
    const conn = live.body.connection as Record<string, unknown>;
    const facts = rt.impact([
      { action: 'update', kind: 'UserImport', id: live.id, body: { ...live.body, connection: { ...conn, filter: '(objectClass=person)' } } },
      { action: 'update', kind: 'UserImport', id: live.id, body: { ...live.body, schedule: { mode: 'daily', at: '02:00' } } },
      { action: 'update', kind: 'UserImport', id: live.id, body: { ...imp, description: 'same connection, value resent' } },
      { action: 'update', kind: 'UserImport', id: live.id, body: { ...live.body, mapping: { username: 'sAMAccountName' } } },
    ]);
    expect(facts).toEqual([
      { index: 0, facts: [{ type: 'sync-rerun', engine: 'sync-schedules', target: 'UserImport acme/paris/ad', reason: 'connection changed: the synchronization runs again' }] },
      { index: 3, facts: [{ type: 'sync-rerun', engine: 'sync-schedules', target: 'UserImport acme/paris/ad', reason: 'mapping changed: the synchronization runs again' }] },
    ]);
  });

  it('sync-schedules reports each import and directory with its schedule and next run', async () => {
    const engine = new SyncSchedulesEngine();
    const now = new Date('2026-03-01T10:00:00Z');
    const ctx: EngineContext = { log: { debug() {}, info() {}, warn() {}, error() {} }, fingerprint: (v) => v, secret: () => undefined, now: () => now };
    const mk = (kind: 'UserImport' | 'Directory', id: string, body: Record<string, unknown>): LiveResource => ({ kind, id, body, manager: 'config', revision: 1, updatedAt: '', updatedBy: '', updatedVia: 'plan' });
    await engine.start(ctx, [
      mk('UserImport', 'acme/paris/ad', { schedule: { mode: 'interval', every: '15m' } }),
      mk('Directory', 'acme/paris/corp', { type: 'public', sync: { mode: 'manual' } }),
      mk('Directory', 'acme/paris/old', { type: 'disabled' }),
    ]);
    expect(engine.status().details!.syncs).toEqual([
      { kind: 'UserImport', id: 'acme/paris/ad', company: 'acme', mode: 'interval', every: '15m', nextRun: '2026-03-01T10:15:00.000Z' },
      { kind: 'Directory', id: 'acme/paris/corp', company: 'acme', mode: 'manual' },
      { kind: 'Directory', id: 'acme/paris/old', company: 'acme', mode: 'disabled' },
    ]);
    const daily = nextRun({ mode: 'daily', at: '02:30' }, now, now)!;
    expect(daily.getTime()).toBeGreaterThan(now.getTime());
    expect(daily.getTime() - now.getTime()).toBeLessThanOrEqual(24 * 3600_000);
    expect([daily.getHours(), daily.getMinutes()]).toEqual([2, 30]);
  });

  it('a daily synchronization without at runs at the company\'s timeSynchronizationDirectories, its domain override first', async () => {
    const engine = new SyncSchedulesEngine();
    const now = new Date('2026-03-01T10:00:00Z');
    const ctx: EngineContext = { log: { debug() {}, info() {}, warn() {}, error() {} }, fingerprint: (v) => v, secret: () => undefined, now: () => now };
    const mk = (kind: KindName, id: string, body: Record<string, unknown>): LiveResource => ({ kind, id, body, manager: 'config', revision: 1, updatedAt: '', updatedBy: '', updatedVia: 'plan' });
    const imports = [
      mk('UserImport', 'acme/paris/ad', { domain: 'acme/paris', schedule: { mode: 'daily' } }),
      mk('Directory', 'acme/nice/corp', { domain: 'acme/nice', type: 'public', sync: { mode: 'daily' } }),
      mk('UserImport', 'globex/berlin/ad', { domain: 'globex/berlin', schedule: { mode: 'daily' } }),
    ];
    const parameter = mk('ApplicationParameter', 'acme/System/timeSynchronizationDirectories', {
      company: 'acme',
      application: 'System',
      name: 'timeSynchronizationDirectories',
      default: '02:30',
      overrides: [{ domain: 'paris', value: '04:15' }],
    });
    await engine.start(ctx, [...imports, parameter]);
    const syncs = engine.status().details!.syncs as { id: string; at?: string; atFrom?: string; nextRun?: string }[];
    expect(syncs.map((x) => [x.id, x.at, x.atFrom])).toEqual([
      ['acme/paris/ad', '04:15', 'timeSynchronizationDirectories'],
      ['acme/nice/corp', '02:30', 'timeSynchronizationDirectories'],
      ['globex/berlin/ad', undefined, undefined], // globex sets no parameter: not scheduled
    ]);
    const at = (iso: string | undefined) => (iso ? [new Date(iso).getHours(), new Date(iso).getMinutes()] : undefined);
    expect(syncs.map((x) => at(x.nextRun))).toEqual([[4, 15], [2, 30], undefined]);

    // The parameter changes: the schedules follow (a committed change of ApplicationParameter reaches the engine).
    await engine.onChange({ revision: 2, changes: [] } as never, [...imports, { ...parameter, body: { ...parameter.body, overrides: [] } }]);
    expect((engine.status().details!.syncs as { at?: string }[]).map((x) => x.at)).toEqual(['02:30', '02:30', undefined]);
  });

  it('pbx-links assigns devices without a link to the first link of their protocol', async () => {
    const engine = new PbxLinksEngine();
    const mk = (kind: KindName, id: string, body: Record<string, unknown>): LiveResource => ({ kind, id, body, manager: 'config', revision: 1, updatedAt: '', updatedBy: '', updatedVia: 'plan' });
    await engine.start({ log: { debug() {}, info() {}, warn() {}, error() {} }, fingerprint: (v) => v, secret: () => undefined, now: () => new Date() }, [
      mk('PbxLink', 'a/d/vti', { domain: 'a/d', name: 'vti', protocol: 'vtixml', ip: '10.0.0.1', siteCluster: '5.2', capacity: 500 }),
      mk('PbxLink', 'a/d/sip', { domain: 'a/d', name: 'sip', protocol: 'sip', ip: '10.0.0.2' }),
      mk('User', 'a/d/u', { domain: 'a/d', username: 'u', devices: [{ number: '100', protocol: 'VTI-XML' }, { number: '101', protocol: 'CSTA' }] }),
      mk('CallQueue', 'a/d/q', { domain: 'a/d', name: 'q', number: '600', protocol: 'VTI-XML' }),
      mk('BotGroup', 'a/d/b', { domain: 'a/d', name: 'b', firstNumber: '790', count: 3 }),
    ]);
    const d = engine.status().details!;
    await engine.stop();
    expect((d.links as { id: string; wanted: number; port: number | undefined; siteCluster?: string }[]).map((l) => [l.id, l.wanted, l.port, l.siteCluster])).toEqual([
      ['a/d/vti', 2, 3199, '5.2'],
      ['a/d/sip', 3, 5060, undefined],
    ]);
    expect(d.unsupervised).toEqual([{ company: 'a', extensions: 1 }]);
  });
});
