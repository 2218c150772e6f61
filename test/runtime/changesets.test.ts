import { afterEach, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/runtime/core.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { ChangeSetResult } from '../../src/runtime/types.js';
import { bulkUsers, changeSet, companyAndDomain, creates, find, open, quickstart, tempDir } from './helpers.js';

const opened: Runtime[] = [];
afterEach(async () => {
  for (const rt of opened.splice(0)) await rt.close();
});
async function withQuickstart(): Promise<Runtime> {
  const rt = await open(tempDir());
  opened.push(rt);
  expect(rt.apply(changeSet(0, creates(quickstart())))).toMatchObject({ ok: true, revision: 1 });
  return rt;
}
const refused = (r: ChangeSetResult) => {
  if (r.ok) throw new Error('expected a refusal');
  return r;
};

describe('change sets', () => {
  it('refuses a stale change set and applies nothing', async () => {
    const rt = await withQuickstart();
    const before = rt.state();
    const r = refused(rt.apply(changeSet(0, companyAndDomain('globex'))));
    expect(r.code).toBe('stale');
    expect(r.revision).toBe(1);
    expect(r.message).toMatch(/planned against revision 0 but the live revision is 1/);
    expect(rt.state()).toEqual(before);
    expect(rt.audit()).toHaveLength(1);
  });

  it('refuses create of an existing id, update or delete of a missing one, all reported at once', async () => {
    const rt = await withQuickstart();
    const r = refused(
      rt.apply(
        changeSet(1, [
          { action: 'create', kind: 'Company', id: 'acme', body: { name: 'acme' } },
          { action: 'update', kind: 'User', id: 'acme/paris/zoe', body: { domain: 'acme/paris', username: 'zoe' } },
          { action: 'delete', kind: 'Group', id: 'acme/paris/Nobody' },
        ]),
      ),
    );
    expect(r.code).toBe('not-found');
    expect(r.problems.map((p) => [p.code, p.kind, p.id])).toEqual([
      ['exists', 'Company', 'acme'],
      ['not-found', 'User', 'acme/paris/zoe'],
      ['not-found', 'Group', 'acme/paris/Nobody'],
    ]);
    expect(rt.revision()).toBe(1);
  });

  it('refuses an id that does not match the body, an unknown kind and a non-object body', async () => {
    const rt = await withQuickstart();
    const r = refused(
      rt.apply(
        changeSet(1, [
          { action: 'create', kind: 'User', id: 'acme/paris/zoe', body: { domain: 'acme/paris', username: 'zoé' } },
          { action: 'create', kind: 'Nope' as 'User', id: 'x', body: {} },
          { action: 'create', kind: 'Company', id: 'x', body: [] as unknown as Record<string, unknown> },
        ]),
      ),
    );
    expect(r.code).toBe('invalid');
    expect(r.problems[0]).toMatchObject({ code: 'id-mismatch', kind: 'User', id: 'acme/paris/zoe' });
    expect(r.problems[0]!.message).toContain("identifies User 'acme/paris/zoé'");
    expect(r.problems[1]!.message).toMatch(/unknown kind "Nope"/);
    expect(r.problems[2]!.message).toMatch(/must be an object/);
  });

  it('applies changes in order: delete then create of one id replaces it', async () => {
    const rt = await withQuickstart();
    const alice = rt.get('User', 'acme/paris/alice')!;
    const r = rt.apply(
      changeSet(1, [
        { action: 'delete', kind: 'User', id: 'acme/paris/alice' },
        { action: 'create', kind: 'User', id: 'acme/paris/alice', body: { ...alice.body, lastName: 'Replaced' } },
      ]),
    );
    expect(r).toMatchObject({ ok: true, applied: 2 });
    expect(rt.get('User', 'acme/paris/alice')!.body.lastName).toBe('Replaced');
  });

  describe('invariants are re-checked on the post-change state, with precise problems', () => {
    it('unresolved reference', async () => {
      const rt = await withQuickstart();
      const r = refused(rt.apply(changeSet(1, [{ action: 'create', kind: 'User', id: 'acme/paris/zoe', body: { domain: 'acme/paris', username: 'zoe', devices: [{ number: '1009', protocol: 'CSTA', link: 'pbx2' }] } }])));
      expect(r.code).toBe('invalid');
      expect(r.problems).toEqual([
        { code: 'unresolved-reference', message: expect.stringContaining("PBX link 'pbx2' does not exist") as string, kind: 'User', id: 'acme/paris/zoe', path: 'devices.0.link' },
      ]);
    });

    it('deleting what others reference', async () => {
      const rt = await withQuickstart();
      const r = refused(rt.apply(changeSet(1, [{ action: 'delete', kind: 'User', id: 'acme/paris/alice' }])));
      expect(r.problems).toEqual([expect.objectContaining({ code: 'unresolved-reference', kind: 'Group', id: 'acme/paris/All', path: 'members.0' })]);
    });

    it('extension conflict', async () => {
      const rt = await withQuickstart();
      const r = refused(rt.apply(changeSet(1, [{ action: 'create', kind: 'User', id: 'acme/paris/zoe', body: { domain: 'acme/paris', username: 'zoe', devices: [{ number: '1002', protocol: 'CSTA' }] } }])));
      expect(r.problems).toEqual([
        {
          code: 'extension-conflict',
          message: expect.stringContaining('extension 1002 (user acme/paris/zoe) is already used by user acme/paris/bruno') as string,
          kind: 'User',
          id: 'acme/paris/zoe',
          path: 'devices.0.number',
        },
      ]);
    });

    it('licence exceeded', async () => {
      const rt = await withQuickstart();
      const r = refused(rt.apply(changeSet(1, [{ action: 'update', kind: 'License', id: 'acme/Caller', body: { company: 'acme', application: 'Caller', available: 2 } }])));
      expect(r.problems).toEqual([expect.objectContaining({ code: 'license-exceeded', kind: 'License', id: 'acme/Caller', path: 'available' })]);
      expect(r.problems[0]!.message).toMatch(/5 .*2|2 .*5/);
    });

    it('schema violations', async () => {
      const rt = await withQuickstart();
      const alice = rt.get('User', 'acme/paris/alice')!;
      const r = refused(rt.apply(changeSet(1, [{ action: 'update', kind: 'User', id: alice.id, body: { ...alice.body, email: 'not an email', colour: 'blue' } }])));
      expect(r.problems.map((p) => [p.code, p.id, p.path])).toEqual(
        expect.arrayContaining([
          [expect.any(String), 'acme/paris/alice', 'email'],
          [expect.any(String), 'acme/paris/alice', 'colour'],
        ]),
      );
      expect(rt.revision()).toBe(1);
    });

    it('only the companies a change set touches are re-checked, and nothing crosses companies', async () => {
      const rt = await withQuickstart();
      expect(rt.apply(changeSet(1, [...companyAndDomain('globex'), ...bulkUsers('globex', 3, 'g', 1001)]))).toMatchObject({ ok: true });
      // Same extension numbers as acme's users: another company, no conflict.
      const r = refused(rt.apply(changeSet(2, [{ action: 'create', kind: 'Group', id: 'globex/site/g', body: { domain: 'globex/site', name: 'g', members: ['acme/paris/alice'] } }])));
      expect(r.problems[0]).toMatchObject({ kind: 'Group', id: 'globex/site/g', path: 'members.0' });
    });
  });

  describe('principal scoping', () => {
    const acmeAdmin: Principal = { username: 'acme-admin', superUser: false, companies: ['acme'] };

    it('a company admin changes only their companies, never admin accounts', async () => {
      const rt = await withQuickstart();
      const alice = rt.get('User', 'acme/paris/alice')!;
      expect(rt.apply(changeSet(1, [{ action: 'update', kind: 'User', id: alice.id, body: { ...alice.body, firstName: 'Al' } }], 'api'), acmeAdmin)).toMatchObject({ ok: true });
      const r = refused(
        rt.apply(
          changeSet(2, [...companyAndDomain('globex'), { action: 'create', kind: 'AdminAccount', id: 'eve', body: { username: 'eve', superUser: true } }], 'api'),
          acmeAdmin,
        ),
      );
      expect(r.code).toBe('forbidden');
      expect(r.problems.map((p) => [p.code, p.kind, p.id])).toEqual([
        ['forbidden', 'Company', 'globex'],
        ['forbidden', 'Domain', 'globex/site'],
        ['forbidden', 'AdminAccount', 'eve'],
      ]);
      expect(rt.audit()[0]!.actor).toBe('acme-admin');
    });

    it('state and audit show a company admin only their companies', async () => {
      const rt = await withQuickstart();
      rt.apply({ baseRevision: 1, changes: [...companyAndDomain('globex'), ...bulkUsers('globex', 2), { action: 'update', kind: 'Domain', id: 'acme/paris', body: { ...rt.get('Domain', 'acme/paris')!.body, internalLength: 5 } }], origin: { via: 'plan', summary: 'globex: 4 to create' } });
      const mine = rt.state({ principal: acmeAdmin });
      expect(new Set(mine.resources.map((r) => rt.companyOf(r.kind, r.id)))).toEqual(new Set(['acme']));
      expect(mine.resources.some((r) => r.kind === 'AdminAccount')).toBe(false);
      expect(rt.state({ company: 'globex' }).resources.map((r) => r.id)).toEqual(['globex', 'globex/site', 'globex/site/u00000', 'globex/site/u00001']);
      expect(rt.state({ company: 'globex', principal: acmeAdmin }).resources).toEqual([]);
      const audit = rt.audit({ principal: acmeAdmin });
      expect(audit.map((a) => a.revision)).toEqual([2, 1]);
      expect(audit.every((a) => a.changes.every((c) => rt.companyOf(c.kind, c.id) === 'acme'))).toBe(true);
      expect(audit[0]!.changes.map((c) => c.id)).toEqual(['acme/paris']);
      expect(audit[0]!.summary).toBeUndefined(); // it talks about globex
      expect(rt.audit()[0]!.summary).toBe('globex: 4 to create');
      expect(rt.audit().map((a) => a.revision)).toEqual([2, 1]);
    });

    it('companyOf and canAccessCompany', async () => {
      const rt = await withQuickstart();
      expect(rt.companyOf('Company', 'acme')).toBe('acme');
      expect(rt.companyOf('AdminAccount', 'root')).toBeUndefined();
      expect(rt.companyOf('User', 'acme/paris/alice')).toBe('acme');
      expect(rt.companyOf('License', 'acme/Caller')).toBe('acme');
      expect(rt.canAccessCompany(acmeAdmin, 'acme')).toBe(true);
      expect(rt.canAccessCompany(acmeAdmin, 'globex')).toBe(false);
      expect(rt.canAccessCompany(acmeAdmin, undefined)).toBe(false);
      expect(rt.canAccessCompany({ username: 'root', superUser: true, companies: [] }, undefined)).toBe(true);
    });
  });

  it('emits one event per committed change set, none for refusals', async () => {
    const rt = await withQuickstart();
    const events: unknown[] = [];
    const off = rt.subscribe((e) => events.push(e));
    rt.apply(changeSet(0, []));
    const bob = find(rt.state().resources, 'User', 'acme/paris/bruno');
    rt.apply(changeSet(1, [{ action: 'update', kind: 'User', id: bob.id, body: { ...bob.body, mobile: '+33600000000' } }], 'api', 'someone'));
    off();
    rt.apply(changeSet(2, [{ action: 'delete', kind: 'Authorization', id: 'acme/paris/application:Caller/group:All' }]));
    expect(events).toEqual([{ revision: 2, at: expect.any(String) as string, via: 'api', actor: 'someone', changes: [{ action: 'update', kind: 'User', id: 'acme/paris/bruno', company: 'acme' }] }]);
  });
});
