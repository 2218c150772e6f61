/** The pure parts of the reconciler: canonical form, differ, safety. Table-driven. */
import { describe, expect, it } from 'vitest';
import { canonicalize, stableJson } from '../../src/plan/canonical.js';
import { diff, fieldChanges, matchesTarget, sameValue, type CanonicalLive, type DesiredResource } from '../../src/plan/diff.js';
import { checkSafety, parseAllowDestroy } from '../../src/plan/safety.js';
import type { LiveResource, Manager } from '../../src/runtime/types.js';
import type { KindName } from '../../src/model/kinds.js';
import type { Plan } from '../../src/plan/types.js';

const keep = (v: unknown) => v;

function live(kind: KindName, id: string, body: Record<string, unknown>, manager: Manager = 'config', extra: Partial<LiveResource> = {}): CanonicalLive {
  const resource: LiveResource = { kind, id, body, manager, revision: 1, updatedAt: '2026-01-01T00:00:00.000Z', updatedBy: 'config', updatedVia: 'plan', ...extra };
  return { resource, body: canonicalize(kind, body, keep) };
}
const desired = (kind: KindName, id: string, body: Record<string, unknown>): DesiredResource => ({ kind, id, body: canonicalize(kind, body, keep) });

describe('canonical form', () => {
  it('fills schema defaults so that writing a default explicitly is not a change', () => {
    const a = canonicalize('PbxLink', { domain: 'a/b', name: 'l', protocol: 'vtixml', ip: '10.0.0.1' }, keep);
    const b = canonicalize('PbxLink', { domain: 'a/b', name: 'l', protocol: 'vtixml', ip: '10.0.0.1', port: 3199 }, keep);
    expect(a.port).toBe(3199);
    expect(sameValue(a, b)).toBe(true);
  });

  it('sorts lists whose order means nothing (group members) and keeps ordered ones (devices)', () => {
    const g1 = canonicalize('Group', { domain: 'a/b', name: 'g', members: ['zoe', 'al'] }, keep);
    const g2 = canonicalize('Group', { domain: 'a/b', name: 'g', members: ['al', 'zoe'] }, keep);
    expect(stableJson(g1)).toBe(stableJson(g2));
    const u1 = canonicalize('User', { domain: 'a/b', username: 'u', devices: [{ number: '1', protocol: 'CSTA' }, { number: '2', protocol: 'CSTA' }] }, keep);
    const u2 = canonicalize('User', { domain: 'a/b', username: 'u', devices: [{ number: '2', protocol: 'CSTA' }, { number: '1', protocol: 'CSTA' }] }, keep);
    expect(sameValue(u1, u2)).toBe(false);
  });

  it('orders dial-plan rules by priority, whatever their order in YAML', () => {
    const r = (p: number) => ({ priority: p, pattern: `${p}`, value: '0' });
    const a = canonicalize('DialPlan', { domain: 'a/b', outgoing: [r(20), r(10)] }, keep);
    const b = canonicalize('DialPlan', { domain: 'a/b', outgoing: [r(10), r(20)] }, keep);
    expect(sameValue(a, b)).toBe(true);
    expect((a.outgoing as { priority: number }[]).map((x) => x.priority)).toEqual([10, 20]);
  });

  it('maps secret fields through the mapper and never copies their values elsewhere', () => {
    const seen: string[] = [];
    const c = canonicalize('User', { domain: 'a/b', username: 'u', password: 'pw', devices: [{ number: '1', protocol: 'VTI-XML', password: 'dev' }] }, (v, path) => {
      seen.push(path);
      return { $secret: `fp(${String(v).length})` };
    });
    expect(seen.sort()).toEqual(['devices[0].password', 'password']);
    expect(JSON.stringify(c)).not.toMatch(/"pw"|"dev"/);
  });

  it('does not mutate its input', () => {
    const body = { domain: 'a/b', name: 'g', members: ['b', 'a'] };
    canonicalize('Group', body, keep);
    expect(body.members).toEqual(['b', 'a']);
  });
});

describe('differ', () => {
  const user = (extra: Record<string, unknown> = {}) => ({ domain: 'acme/paris', username: 'jdoe', firstName: 'John', ...extra });

  const cases: { name: string; desired: DesiredResource[]; live: CanonicalLive[]; expect: string[] }[] = [
    { name: 'create from empty', desired: [desired('User', 'acme/paris/jdoe', user())], live: [], expect: ['create User acme/paris/jdoe'] },
    { name: 'no change', desired: [desired('User', 'acme/paris/jdoe', user())], live: [live('User', 'acme/paris/jdoe', user())], expect: [] },
    { name: 'update', desired: [desired('User', 'acme/paris/jdoe', user({ firstName: 'Jon' }))], live: [live('User', 'acme/paris/jdoe', user())], expect: ['update User acme/paris/jdoe firstName'] },
    { name: 'delete what config manages', desired: [], live: [live('User', 'acme/paris/jdoe', user())], expect: ['delete User acme/paris/jdoe'] },
    { name: 'never delete what config does not manage', desired: [], live: [live('User', 'acme/paris/jdoe', user(), 'import:ad')], expect: [] },
    {
      name: 'replace on an immutable field (PBX link protocol)',
      desired: [desired('PbxLink', 'acme/paris/pbx', { domain: 'acme/paris', name: 'pbx', protocol: 'vtixml', ip: '10.0.0.1' })],
      live: [live('PbxLink', 'acme/paris/pbx', { domain: 'acme/paris', name: 'pbx', protocol: 'sip', ip: '10.0.0.1' })],
      expect: ['replace PbxLink acme/paris/pbx audit,capacity,port,protocol,siteCluster'],
    },
    {
      name: 'dependencies first, deletions last in reverse order',
      desired: [desired('User', 'acme/paris/u', { domain: 'acme/paris', username: 'u' }), desired('Domain', 'acme/paris', { company: 'acme', name: 'paris' }), desired('Company', 'acme', { name: 'acme' })],
      live: [live('Company', 'old', { name: 'old' }), live('Domain', 'old/x', { company: 'old', name: 'x' })],
      expect: ['create Company acme', 'create Domain acme/paris', 'create User acme/paris/u', 'delete Domain old/x', 'delete Company old'],
    },
  ];

  it.each(cases)('$name', ({ desired: d, live: l, expect: e }) => {
    const r = diff(d, l);
    expect(r.changes.map((c) => `${c.action} ${c.kind} ${c.id}${c.action === 'update' || c.action === 'replace' ? ` ${c.fields.map((f) => f.path).join(',')}` : ''}`)).toEqual(e);
  });

  it('lists unmanaged live resources and warns when config declares one of them', () => {
    const r = diff([desired('User', 'acme/paris/jdoe', user())], [live('User', 'acme/paris/jdoe', user(), 'import:ad'), live('Group', 'acme/paris/g', { domain: 'acme/paris', name: 'g' }, 'api')]);
    expect(r.changes).toEqual([]);
    expect(r.unmanaged.map((u) => `${u.kind} ${u.id} ${u.manager}${u.declared ? ' declared' : ''}`)).toEqual(['Group acme/paris/g api', 'User acme/paris/jdoe import:ad declared']);
    expect(r.warnings.map((w) => w.code)).toEqual(['declared-but-unmanaged']);
  });

  it('reports drift: who changed a config resource out of band', () => {
    const r = diff([desired('User', 'acme/paris/jdoe', user())], [live('User', 'acme/paris/jdoe', user({ firstName: 'Hacked' }), 'config', { drifted: true, updatedBy: 'alice', updatedVia: 'api', revision: 7 })]);
    const c = r.changes[0]!;
    expect(c.action).toBe('update');
    expect(c.action === 'update' && c.drift).toMatchObject({ actor: 'alice', via: 'api', revision: 7 });
  });

  it('shows a changed secret only as sensitive, and an unchanged one not at all', () => {
    const fp = (s: string) => ({ $secret: s });
    expect(fieldChanges({ password: fp('a') }, { password: fp('b') })).toEqual([{ path: 'password', sensitive: true }]);
    expect(fieldChanges({ password: fp('a') }, { password: { $secret: 'a', ref: '${env:X}' } })).toEqual([]);
  });

  it('compares lists of mappings item by item, lists of scalars whole', () => {
    expect(fieldChanges({ devices: [{ number: '1' }] }, { devices: [{ number: '2' }, { number: '3' }] })).toEqual([
      { path: 'devices[0].number', before: '1', after: '2' },
      { path: 'devices[1]', after: { number: '3' } },
    ]);
    expect(fieldChanges({ members: ['a'] }, { members: ['a', 'b'] })).toEqual([{ path: 'members', before: ['a'], after: ['a', 'b'] }]);
  });

  it('restricts to --target ids', () => {
    expect(matchesTarget('User', 'acme/paris/jdoe', ['acme/paris'])).toBe(true);
    expect(matchesTarget('User', 'acme/parisx/jdoe', ['acme/paris'])).toBe(false);
    expect(matchesTarget('User', 'acme/paris/jdoe', ['User/acme/paris/jdoe'])).toBe(true);
    expect(matchesTarget('Group', 'acme/paris/jdoe', ['User/acme/paris/jdoe'])).toBe(false);
    expect(matchesTarget('Group', 'acme/paris/x', ['Group'])).toBe(true);
    const r = diff([desired('User', 'acme/paris/a', { domain: 'acme/paris', username: 'a' }), desired('User', 'acme/nice/b', { domain: 'acme/nice', username: 'b' })], [], { targets: ['acme/nice'] });
    expect(r.changes.map((c) => c.id)).toEqual(['acme/nice/b']);
  });

  it('is deterministic and never throws on arbitrary bodies (property)', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const values = [null, 1, 'x', true, [], {}, ['a'], { a: 1 }, { $secret: 'f' }, [{ number: '1' }]];
    const pick = () => values[Math.floor(rand() * values.length)];
    for (let i = 0; i < 300; i++) {
      const body = () => ({ domain: 'a/b', username: 'u', firstName: pick(), devices: pick(), password: pick(), extra: pick() });
      const d = [desired('User', 'a/b/u', body())];
      const l = [live('User', 'a/b/u', body())];
      const first = diff(d, l);
      expect(diff(d, l)).toEqual(first);
      // after applying the desired state, the plan is empty
      expect(diff(d, [live('User', 'a/b/u', d[0]!.body as Record<string, unknown>)]).changes).toEqual([]);
    }
  });
});

describe('safety', () => {
  const plan = (changes: Plan['changes'], liveCounts: Plan['liveCounts']): Pick<Plan, 'changes' | 'liveCounts'> => ({ changes, liveCounts });
  const del = (kind: KindName, id: string, before: Record<string, unknown> = {}) => ({ action: 'delete' as const, kind, id, before, impact: [] });

  it('refuses deleting more than 30% of a kind once 10 exist, unless allowed', () => {
    const p = plan([1, 2, 3, 4].map((i) => del('User', `a/b/u${i}`)), { User: 10 });
    expect(checkSafety(p, { allowDestroy: new Set() }).map((x) => x.message)).toEqual(['the plan deletes 4 of 10 users (40%), over the 30% threshold: check the configuration, then re-run with --allow-destroy=User']);
    expect(checkSafety(p, { allowDestroy: new Set(['User']) })).toEqual([]);
    expect(checkSafety(plan([1, 2, 3].map((i) => del('User', `a/b/u${i}`)), { User: 10 }), { allowDestroy: new Set() })).toEqual([]);
    expect(checkSafety(plan([1, 2, 3, 4].map((i) => del('User', `a/b/u${i}`)), { User: 9 }), { allowDestroy: new Set() })).toEqual([]);
  });

  it('always asks before deleting a company, domain or PBX link', () => {
    expect(checkSafety(plan([del('PbxLink', 'a/b/pbx')], { PbxLink: 50 }), { allowDestroy: new Set() }).map((x) => x.code)).toEqual(['destroy-kind']);
    expect(checkSafety(plan([del('PbxLink', 'a/b/pbx')], { PbxLink: 50 }), { allowDestroy: new Set(['PbxLink']) })).toEqual([]);
  });

  it('never deletes or replaces a protected resource, even when allowed', () => {
    const p = plan([del('User', 'a/b/boss', { protect: true })], { User: 100 });
    const problems = checkSafety(p, { allowDestroy: new Set(['User']) });
    expect(problems.map((x) => x.code)).toEqual(['protected']);
    expect(problems[0]!.message).toContain('protect: false');
  });

  it('parses --allow-destroy kinds in any case, singular or plural', () => {
    expect([...parseAllowDestroy(['users,PbxLinks', 'domain', 'companies', 'Directories']).kinds].sort()).toEqual(['Company', 'Directory', 'Domain', 'PbxLink', 'User']);
    expect(parseAllowDestroy(['usrs']).unknown).toEqual(['usrs']);
  });
});
