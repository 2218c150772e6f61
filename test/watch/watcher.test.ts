/**
 * The Watcher core with a manual clock: debounce, one cycle at a time, backoff while the
 * runtime is unreachable, stop() with a change set in flight; and the pure parts (holding
 * changes, drift attribution, the parse cache). The runtime is a real embedded one, wrapped
 * to fail or stall on demand.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openEmbedded } from '../../src/runtime/embedded.js';
import type { RuntimeClient } from '../../src/runtime/types.js';
import { processSecretSource } from '../../src/config/secrets.js';
import { Watcher } from '../../src/watch/watcher.js';
import { WorkingTreeSource } from '../../src/watch/tree-source.js';
import { holdChanges } from '../../src/watch/hold.js';
import { writersSince } from '../../src/watch/drift.js';
import type { Plan, PlannedChange } from '../../src/plan/types.js';
import { ManualClock, QUICK_ENV, Recorder } from './helpers.js';

/** A real embedded client that can be made unreachable, or made to hold its change sets until released. */
function flaky(client: RuntimeClient) {
  const state = { down: false, applyCalls: 0, gate: undefined as Promise<void> | undefined };
  const fail = () => {
    if (state.down) throw Object.assign(new Error('fetch failed'), { cause: new Error('connect ECONNREFUSED 127.0.0.1:7480') });
  };
  const wrapped: RuntimeClient = {
    location: client.location,
    state: async (f) => (fail(), client.state(f)),
    fingerprint: async (v) => (fail(), client.fingerprint(v)),
    impact: async (c) => (fail(), client.impact(c)),
    audit: async (q) => (fail(), client.audit(q)),
    status: async () => (fail(), client.status()),
    links: async () => (fail(), client.links()),
    licences: async (f) => (fail(), client.licences(f)),
    extensions: async (q) => (fail(), client.extensions(q)),
    apply: async (cs) => {
      fail();
      state.applyCalls++;
      if (state.gate) await state.gate;
      return client.apply(cs);
    },
    close: () => client.close(),
  };
  return { client: wrapped, state };
}

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

async function setup(options: { resyncMs?: number } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-watcher-'));
  cpSync('examples/quickstart', path.join(dir, 'config'), { recursive: true });
  const real = await openEmbedded(path.join(dir, '.switchboard'));
  const { client, state } = flaky(real);
  const clock = new ManualClock();
  const rec = new Recorder();
  const source = new WorkingTreeSource('config', { cwd: dir });
  const watcher = new Watcher({
    root: 'config',
    source,
    client,
    secrets: processSecretSource(QUICK_ENV, dir),
    host: rec,
    scheduler: clock,
    debounceMs: 300,
    resyncMs: options.resyncMs ?? 0,
    backoff: { initialMs: 1000, maxMs: 8000 },
  });
  cleanup = async () => {
    await watcher.stop();
    await real.close();
  };
  return { dir, real, client, state, clock, rec, watcher, file: (rel: string) => path.join(dir, 'config', rel) };
}

describe('Watcher (manual clock)', () => {
  it('debounces: a burst of events is one cycle, run once the files are quiet', async () => {
    const { clock, rec, watcher, file, real } = await setup();
    watcher.start();
    await rec.next((c) => c.trigger === 'start', { from: 0 });
    const from = rec.mark;
    writeFileSync(file('more.yaml'), 'apiVersion: switchboard/v1\nkind: User\ndomain: acme/paris\nusername: zoe\nemail: zoe@example.com\n');
    for (let i = 0; i < 5; i++) {
      watcher.notify({ type: 'file', path: file('more.yaml') });
      clock.advance(200); // each event restarts the 300 ms wait
    }
    expect(rec.since(from)).toEqual([]);
    clock.advance(100);
    const c = await rec.next(() => true, { from });
    expect(c).toMatchObject({ trigger: 'files', files: ['config/more.yaml'], parsed: 1, outcome: 'applied', applied: 1 });
    expect(rec.since(from)).toHaveLength(1);
    expect((await real.audit({ via: 'plan' })).length).toBe(2);
  });

  it('a resync due during a burst of file events waits for the files to be quiet', async () => {
    const { clock, rec, watcher, file } = await setup({ resyncMs: 1000 });
    watcher.start();
    await rec.next((c) => c.trigger === 'start', { from: 0 });
    while (clock.pending.length === 0) await new Promise((r) => setTimeout(r, 1));
    const from = rec.mark;
    clock.advance(900);
    writeFileSync(file('more.yaml'), 'apiVersion: switchboard/v1\nkind: User\ndomain: acme/paris\nusername: zoe\nemail: zoe@example.com\n');
    watcher.notify({ type: 'file', path: file('more.yaml') });
    clock.advance(250); // the resync is due at 1000, the debounce runs out at 1200
    await new Promise((r) => setTimeout(r, 20));
    expect(rec.since(from)).toEqual([]);
    clock.advance(50);
    expect(await rec.next(() => true, { from })).toMatchObject({ trigger: 'files', outcome: 'applied', files: ['config/more.yaml'] });
    expect(rec.since(from)).toHaveLength(1);
  });

  it('parses only the files whose content changed', async () => {
    const { rec, watcher, clock, file } = await setup();
    watcher.start();
    const first = await rec.next((c) => c.trigger === 'start', { from: 0 });
    expect(first.parsed).toBe(6);
    const from = rec.mark;
    // Touched without a change: read again (the event names it), not parsed again.
    writeFileSync(file('users.yaml'), readFileSync(file('users.yaml'), 'utf8'));
    watcher.notify({ type: 'file', path: file('users.yaml') });
    clock.advance(300);
    expect(await rec.next(() => true, { from })).toMatchObject({ files: [], parsed: 0, outcome: 'unchanged', revision: 1 });
  });

  it('retries with exponential backoff while the runtime is unreachable, and says so', async () => {
    const { rec, watcher, clock, state } = await setup();
    state.down = true;
    watcher.start();
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 5; attempt++) {
      const c = await rec.next((x) => x.outcome === 'failed' && x.failure!.attempt === attempt, { from: 0 });
      expect(c.failure).toMatchObject({ unreachable: true, attempt });
      expect(c.failure!.message).toContain('fetch failed');
      delays.push(c.failure!.retryInMs);
      expect(clock.pending).toEqual([c.failure!.retryInMs]);
      clock.advance(c.failure!.retryInMs);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 8000]);
    expect(rec.cycles.slice(1).every((c) => c.trigger === 'retry')).toBe(true);
    state.down = false;
    const from = rec.mark;
    clock.advance(8000);
    expect(await rec.next(() => true, { from })).toMatchObject({ trigger: 'retry', outcome: 'applied', applied: 14 });
    expect(clock.pending).toEqual([]); // no retry left, no resync configured
  });

  it('a cycle that succeeds before the retry is due cancels the retry', async () => {
    const { rec, watcher, clock, state, file } = await setup();
    state.down = true;
    watcher.start();
    await rec.next((x) => x.outcome === 'failed', { from: 0 });
    while (clock.pending.length === 0) await new Promise((r) => setTimeout(r, 1));
    expect(clock.pending).toEqual([1000]);
    state.down = false;
    const from = rec.mark;
    watcher.notify({ type: 'file', path: file('users.yaml') });
    clock.advance(300);
    expect(await rec.next(() => true, { from })).toMatchObject({ trigger: 'files', outcome: 'applied' });
    expect(clock.pending).toEqual([]); // cleared as the cycle succeeded (no resync configured)
  });

  it('stop() waits for a change set in flight, sends nothing more, and runs no new cycle', async () => {
    const { rec, watcher, state, real, clock, file } = await setup();
    let release!: () => void;
    state.gate = new Promise<void>((r) => (release = r));
    watcher.start();
    while (state.applyCalls === 0) await new Promise((r) => setTimeout(r, 5));
    watcher.notify({ type: 'file', path: file('users.yaml') }); // would queue another cycle
    let stopped = false;
    const stopping = watcher.stop('SIGTERM').then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(stopped).toBe(false); // still waiting for the runtime's answer
    release();
    await stopping;
    clock.advance(10_000);
    expect(rec.cycles.map((c) => c.outcome)).toEqual(['applied']);
    expect(rec.events.at(-1)).toMatchObject({ type: 'stopped', reason: 'SIGTERM', cycles: 1 });
    expect((await real.audit({ via: 'plan' })).length).toBe(1);
  });

  it('a cycle stopped before sending sends nothing', async () => {
    const { rec, watcher, state, real } = await setup();
    state.down = false;
    watcher.start();
    const stopping = watcher.stop('SIGINT'); // during the first cycle's planning
    await stopping;
    expect(rec.cycles.map((c) => c.outcome)).toEqual(['cancelled']);
    expect(state.applyCalls).toBe(0);
    expect(await real.audit()).toEqual([]);
  });

  it('resync: a secret read from a file is planned every time, so its change is applied', async () => {
    const { rec, watcher, clock, file, real } = await setup({ resyncMs: 60_000 });
    writeFileSync(file('links.yaml'), readFileSync(file('links.yaml'), 'utf8').replace('${env:CSTA_PASSWORD}', '${file:csta.secret}'));
    writeFileSync(file('csta.secret'), 'first\n');
    watcher.start();
    await rec.next((c) => c.trigger === 'start', { from: 0 });
    const resync = async () => {
      while (clock.pending.length === 0) await new Promise((r) => setTimeout(r, 1));
      const from = rec.mark;
      clock.advance(60_000);
      return rec.next(() => true, { from });
    };
    expect(await resync()).toMatchObject({ trigger: 'resync', outcome: 'no-changes' });
    writeFileSync(file('csta.secret'), 'second\n');
    expect(await resync()).toMatchObject({ trigger: 'resync', outcome: 'applied', applied: 1 });
    const [fp] = await real.fingerprint(['second']);
    expect(real.runtime.get('PbxLink', 'acme/paris/pbx')?.body.password).toEqual({ $secret: fp });
  });

  it('resync: skips planning when neither the files nor the revision moved', async () => {
    const { rec, watcher, clock } = await setup({ resyncMs: 60_000 });
    watcher.start();
    await rec.next((c) => c.trigger === 'start', { from: 0 });
    while (clock.pending.length === 0) await new Promise((r) => setTimeout(r, 1)); // the resync timer is set as the cycle ends
    expect(clock.pending).toEqual([60_000]);
    const from = rec.mark;
    clock.advance(60_000);
    const c = await rec.next(() => true, { from });
    expect(c).toMatchObject({ trigger: 'resync', outcome: 'unchanged', revision: 1 });
    expect(c.timings.plan).toBeUndefined();
  });
});

const change = (action: PlannedChange['action'], kind: string, id: string, before: Record<string, unknown> = {}): PlannedChange =>
  ({ action, kind, id, impact: [], ...(action !== 'create' ? { before } : {}), ...(action !== 'delete' ? { after: {}, fields: [] } : {}), ...(action === 'replace' ? { reason: 'x' } : {}) }) as unknown as PlannedChange;

function planOf(changes: PlannedChange[]): Plan {
  return { changes, liveCounts: {}, summary: { create: 0, update: 0, delete: 0, replace: 0, unmanaged: 0, byKind: {} } } as unknown as Plan;
}

describe('holdChanges', () => {
  it('holds deletions of kinds not allowed, protected deletes and replaces, and what is above a held deletion', () => {
    const plan = planOf([
      change('create', 'User', 'acme/paris/new'),
      change('update', 'User', 'acme/paris/alice'),
      change('replace', 'PbxLink', 'acme/paris/pbx', { protect: true }),
      change('replace', 'PbxLink', 'acme/nice/pbx'),
      change('delete', 'User', 'acme/lyon/bob'),
      change('delete', 'Group', 'acme/paris/g', { protect: true }),
      change('delete', 'Domain', 'acme/lyon'),
      change('delete', 'Domain', 'acme/lille'),
    ]);
    const { plan: rest, held } = holdChanges(plan, { allowDestroy: new Set(['Domain', 'Group']) });
    expect(held.map((h) => `${h.reason} ${h.action} ${h.id}`)).toEqual(['protected replace acme/paris/pbx', 'destroy-not-allowed delete acme/lyon/bob', 'protected delete acme/paris/g', 'dependent delete acme/lyon']);
    expect(rest.changes.map((c) => c.id)).toEqual(['acme/paris/new', 'acme/paris/alice', 'acme/nice/pbx', 'acme/lille']);
    expect(rest.summary).toMatchObject({ create: 1, update: 1, replace: 1, delete: 1 });
  });

  it('holds the reverts of out-of-band changes when asked', () => {
    const plan = planOf([change('update', 'User', 'acme/paris/alice'), change('update', 'User', 'acme/paris/bruno')]);
    const { held } = holdChanges(plan, { allowDestroy: new Set(), outOfBand: new Set(['User\u0000acme/paris/bruno']) });
    expect(held).toEqual([expect.objectContaining({ id: 'acme/paris/bruno', reason: 'out-of-band' })]);
  });
});

describe('writersSince', () => {
  it('keeps the latest writer of each resource, leaving out the watcher’s own change sets', () => {
    const entry = (revision: number, actor: string, id: string) => ({ revision, at: `t${revision}`, actor, via: 'api' as const, changes: [{ action: 'update' as const, kind: 'User' as const, id }] });
    const writers = writersSince([entry(5, 'local', 'a'), entry(4, 'bob', 'a'), entry(3, 'eve', 'a'), entry(2, 'eve', 'b')], new Set([5]));
    expect(writers.get('User\u0000a')).toEqual({ actor: 'bob', via: 'api', revision: 4, at: 't4' });
    expect(writers.get('User\u0000b')?.actor).toBe('eve');
  });
});
