/** `switchboard lookup`: caller number → user, through the incoming dial plan and inverse length. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { lookupCaller } from '../../src/sync/lookup.js';
import { liveDialPlan } from '../../src/sync/run.js';
import { changeSet, creates, open, quickstart, tempDir } from '../runtime/helpers.js';

const BIN = path.resolve('bin/switchboard.js');

async function runtime(): Promise<string> {
  const dir = tempDir();
  const rt = await open(dir, { startEngines: false });
  expect(rt.apply(changeSet(0, creates(quickstart())))).toMatchObject({ ok: true });
  const plan = rt.get('DialPlan', 'acme/paris')!;
  const zoe = { domain: 'acme/paris', username: 'zoe', firstName: 'Zoé', lastName: 'Martin', mobile: '+33 6 12 34 56 78', devices: [{ number: '2001', protocol: 'CSTA' }] };
  expect(
    rt.apply(
      changeSet(1, [
        { action: 'update', kind: 'DialPlan', id: 'acme/paris', body: { ...plan.body, incoming: [{ priority: 1, pattern: '+3312345', value: '' }] } },
        { action: 'create', kind: 'User', id: 'acme/paris/zoe', body: zoe, manager: 'import:ad' },
      ], 'sync'),
    ),
  ).toMatchObject({ ok: true });
  await rt.close();
  return dir;
}

describe('lookup', () => {
  it('finds a user by extension through the incoming rules, and by mobile through the inverse length', async () => {
    const dir = await runtime();
    const rt = await open(dir, { startEngines: false });
    try {
      const state = rt.state({ company: 'acme' });
      const compiled = liveDialPlan(state.resources, 'acme/paris')!;
      const ext = lookupCaller(compiled, state.resources, 'acme/paris', '+33 1 23 45 10 01');
      expect(ext.key).toBe('1001');
      expect(ext.matches.map((m) => [m.id, m.field])).toEqual([['acme/paris/alice', 'devices[0].number']]);
      const mobile = lookupCaller(compiled, state.resources, 'acme/paris', '06 12 34 56 78');
      expect(mobile.key).toBe('612345678');
      expect(mobile.matches).toMatchObject([{ id: 'acme/paris/zoe', name: 'Zoé Martin', field: 'mobile', source: 'users (import:ad)' }]);
      expect(lookupCaller(compiled, state.resources, 'acme/paris', '+44 20 7946 0000').matches).toEqual([]);
    } finally {
      await rt.close();
    }
  });

  it('switchboard lookup prints the match; exit 1 when nobody matches', async () => {
    const dir = await runtime();
    const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    const hit = run(['lookup', '+33 1 23 45 67 89', '--domain', 'acme/paris', '--data-dir', dir]);
    expect(hit.status).toBe(1);
    expect(hit.stdout).toContain('nobody (lookup key 6789)');
    const alice = run(['lookup', '+33123451001', '--domain', 'acme/paris', '--data-dir', dir]);
    expect(alice.stderr).toBe('');
    expect(alice.status).toBe(0);
    expect(alice.stdout).toMatch(/^\+33123451001: .* — User acme\/paris\/alice, devices\[0\]\.number 1001 \(users; lookup key 1001\)\n$/);
    const bad = run(['lookup', '1001', '--domain', 'acme/nowhere', '--data-dir', dir]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/no domain 'acme\/nowhere'/);
  });
});
