/**
 * Several processes on one store: racing change sets, a writer killed with SIGKILL in the
 * middle of its transaction, and commits of another process reaching subscribers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CommittedEvent } from '../../src/runtime/core.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { ChangeSetResult, LiveState } from '../../src/runtime/types.js';
import { bulkUsers, changeSet, child, companyAndDomain, open, tempDir, until, writeJson } from './helpers.js';

const opened: Runtime[] = [];
afterEach(async () => {
  for (const rt of opened.splice(0)) await rt.close();
});

/** A data dir at revision 1 holding company `acme` and its domain. */
async function seeded(): Promise<{ dir: string; before: LiveState }> {
  const dir = tempDir();
  const rt = await open(dir, { startEngines: false });
  expect(rt.apply(changeSet(0, companyAndDomain('acme')))).toMatchObject({ ok: true, revision: 1 });
  const before = rt.state();
  await rt.close();
  return { dir, before };
}

async function snapshot(dir: string): Promise<{ state: LiveState; audit: number }> {
  const rt = await open(dir, { startEngines: false });
  try {
    return { state: rt.state(), audit: rt.audit({ limit: 1000 }).length };
  } finally {
    await rt.close();
  }
}

const resultOf = (line: string) => JSON.parse(line.slice('result '.length)) as ChangeSetResult;

describe('processes sharing one store', () => {
  it('two change sets racing from two processes: one wins, the other is stale, nothing half-applied', async () => {
    const { dir } = await seeded();
    const a = child(['apply', dir, writeJson(dir, 'a.json', changeSet(1, bulkUsers('acme', 2000, 'a', 10000))), '--wait-go']);
    const b = child(['apply', dir, writeJson(dir, 'b.json', changeSet(1, bulkUsers('acme', 2000, 'b', 20000))), '--wait-go']);
    await Promise.all([a.line((l) => l === 'ready'), b.line((l) => l === 'ready')]);
    a.send('go');
    b.send('go');
    const results = (await Promise.all([a.line((l) => l.startsWith('result ')), b.line((l) => l.startsWith('result '))])).map(resultOf);
    await Promise.all([a.exited, b.exited]);
    const winners = results.filter((r) => r.ok);
    const losers = results.filter((r) => !r.ok);
    expect(winners).toEqual([{ ok: true, revision: 2, applied: 2000 }]);
    expect(losers).toEqual([expect.objectContaining({ ok: false, code: 'stale' })]);
    const after = await snapshot(dir);
    expect(after.state.revision).toBe(2);
    expect(after.audit).toBe(2);
    const users = after.state.resources.filter((r) => r.kind === 'User');
    expect(users).toHaveLength(2000);
    const prefixes = new Set(users.map((u) => String(u.body.username)[0]));
    expect(prefixes.size).toBe(1); // all from the winner, none from the loser
  }, 60_000);

  it('a writer killed with SIGKILL in the middle of a 10,000-resource change set leaves the store exactly as before', async () => {
    const { dir, before } = await seeded();
    const c = child(['apply', dir, writeJson(dir, 'big.json', changeSet(1, bulkUsers('acme', 10_000))), '--hang-at', '5000']);
    await c.line((l) => l === 'begin'); // 5,000 rows written, transaction open
    c.proc.kill('SIGKILL');
    expect((await c.exited).signal).toBe('SIGKILL');
    const after = await snapshot(dir);
    expect(after.state).toEqual(before);
    expect(after.audit).toBe(1);
    // And the store is still writable.
    const rt = await open(dir, { startEngines: false });
    opened.push(rt);
    expect(rt.apply(changeSet(1, bulkUsers('acme', 10)))).toMatchObject({ ok: true, revision: 2 });
  }, 60_000);

  it('killed at an arbitrary moment, the store is exactly old or exactly new', async () => {
    const outcomes = new Set<string>();
    for (const delay of [0, 40, 80, 160, 320]) {
      const { dir, before } = await seeded();
      const c = child(['apply', dir, writeJson(dir, 'big.json', changeSet(1, bulkUsers('acme', 10_000))), '--wait-go']);
      await c.line((l) => l === 'ready');
      c.send('go');
      await new Promise((r) => setTimeout(r, delay));
      c.proc.kill('SIGKILL');
      await c.exited;
      const after = await snapshot(dir);
      if (after.state.revision === 1) {
        expect(after.state).toEqual(before);
        expect(after.audit).toBe(1);
        outcomes.add('old');
      } else {
        expect(after.state.revision).toBe(2);
        expect(after.state.resources.filter((r) => r.kind === 'User')).toHaveLength(10_000);
        expect(after.audit).toBe(2);
        outcomes.add('new');
      }
    }
    expect(outcomes.size).toBeGreaterThan(0);
  }, 120_000);

  it("another process's commits reach subscribers, in order, with the state refreshed", async () => {
    const { dir } = await seeded();
    const rt = await open(dir, { pollIntervalMs: 50 });
    opened.push(rt);
    const events: CommittedEvent[] = [];
    rt.subscribe((e) => events.push(e));
    const c1 = child(['apply', dir, writeJson(dir, 'one.json', changeSet(1, bulkUsers('acme', 3)))]);
    expect(resultOf(await c1.line((l) => l.startsWith('result ')))).toMatchObject({ ok: true, revision: 2 });
    await c1.exited;
    const c2 = child(['apply', dir, writeJson(dir, 'two.json', changeSet(2, [{ action: 'delete', kind: 'User', id: 'acme/site/u00001' }]))]);
    expect(resultOf(await c2.line((l) => l.startsWith('result ')))).toMatchObject({ ok: true, revision: 3 });
    await c2.exited;
    await until(() => events.length >= 2, 5000, 'two events');
    expect(events.map((e) => [e.revision, e.via, e.changes.length, e.changes[0]])).toEqual([
      [2, 'plan', 3, { action: 'create', kind: 'User', id: 'acme/site/u00000', company: 'acme' }],
      [3, 'plan', 1, { action: 'delete', kind: 'User', id: 'acme/site/u00001', company: 'acme' }],
    ]);
    expect(rt.revision()).toBe(3);
    expect(rt.state().resources.filter((r) => r.kind === 'User').map((r) => r.id)).toEqual(['acme/site/u00000', 'acme/site/u00002']);
    // Our own change set now builds on theirs.
    expect(rt.apply(changeSet(3, [{ action: 'delete', kind: 'User', id: 'acme/site/u00002' }]))).toMatchObject({ ok: true, revision: 4 });
  }, 60_000);
});
