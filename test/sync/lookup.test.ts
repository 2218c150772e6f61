/** `switchboard lookup`: caller number → user, through the incoming dial plan and inverse length. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LiveResource } from '../../src/runtime/types.js';
import { directoriesSeenBy, lookupCaller } from '../../src/sync/lookup.js';
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

  it("searches the contacts of another domain's directory granted to one of the domain's users, not those of others", async () => {
    const dir = await runtime();
    const rt = await open(dir, { startEngines: false });
    try {
      const state = rt.state({ company: 'acme' });
      const live = (kind: LiveResource['kind'], id: string, body: Record<string, unknown>): LiveResource => ({ kind, id, body, manager: 'config', revision: 1, updatedAt: '', updatedBy: '', updatedVia: 'plan' });
      const contact = (domain: string, directory: string, identifier: string, businessPhone: string, priority: number) =>
        live('Contact', `${domain}/${directory}/${identifier}`, { domain, directory, identifier, priority, fields: { lastName: identifier, businessPhone } });
      const resources = [
        ...state.resources,
        live('Directory', 'acme/nice/corp', { domain: 'acme/nice', name: 'corp', serverType: 'csv' }),
        live('Directory', 'acme/nice/secret', { domain: 'acme/nice', name: 'secret', serverType: 'csv' }),
        live('Directory', 'acme/paris/local', { domain: 'acme/paris', name: 'local', serverType: 'csv' }),
        // corp (of nice) is granted to alice of paris; secret is granted to nobody in paris.
        live('Authorization', 'acme/nice/directory:corp/user:paris/alice', { domain: 'acme/nice', object: { directory: 'corp' }, grantee: { user: 'paris/alice' } }),
        live('Authorization', 'acme/nice/directory:secret/user:bob', { domain: 'acme/nice', object: { directory: 'secret' }, grantee: { user: 'bob' } }),
        contact('acme/nice', 'corp', 'Nicois', '+33 4 93 00 00 01', 2),
        contact('acme/nice', 'secret', 'Hidden', '+33 4 93 00 00 01', 1),
        contact('acme/paris', 'local', 'Parisien', '+33 4 93 00 00 01', 3),
      ];
      expect([...directoriesSeenBy(resources, 'acme/paris')].sort()).toEqual(['acme/nice/corp', 'acme/paris/local']);
      const compiled = liveDialPlan(resources, 'acme/paris')!;
      const result = lookupCaller(compiled, resources, 'acme/paris', '04 93 00 00 01');
      expect(result.matches.map((m) => [m.id, m.source, m.priority])).toEqual([
        ['acme/nice/corp/Nicois', 'directory nice/corp', 2],
        ['acme/paris/local/Parisien', 'directory local', 3],
      ]);
    } finally {
      await rt.close();
    }
  });
});
