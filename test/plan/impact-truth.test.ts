/**
 * The plan claims only what the runtime will do (issue 13 §4): extensions on links without a
 * driver, or over a link's capacity, are "configured, not supervised" with why; a directory
 * of a type the runtime does not read is not promised a synchronization; a CSTA link with room
 * still says "supervision starts". Impact from the real engines (runtime and fixture).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { listConfigFiles } from '../../src/config/tree.js';
import { processSecretSource } from '../../src/config/secrets.js';
import { makePlan } from '../../src/plan/planner.js';
import { renderMarkdown } from '../../src/render/markdown.js';
import { renderText } from '../../src/render/text.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { Change, ImpactFact } from '../../src/runtime/types.js';
import { validateConfig } from '../../src/validate/validate.js';
import { changeSet, creates, open, quickstart, tempDir } from '../runtime/helpers.js';
import { fixtureImpact } from './fixture-impact.js';
import { fixtureRuntime } from './fixture-runtime.js';

function envFor(dir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const f of listConfigFiles(dir)) for (const m of readFileSync(f.absolute, 'utf8').matchAll(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g)) env[m[1]!] = `dummy-${m[1]}`;
  return env;
}

/** `n` users of acme/paris with CSTA extensions first, first+1, … (quickstart's link, capacity 100, carries them with its five). */
function moreUsers(n: number, first = 2000): Change[] {
  return Array.from({ length: n }, (_, i) => ({
    action: 'create' as const,
    kind: 'User' as const,
    id: `acme/paris/extra${i}`,
    body: { domain: 'acme/paris', username: `extra${i}`, devices: [{ number: String(first + i), protocol: 'CSTA' }] },
  }));
}

const factsOf = (impact: readonly { facts: readonly ImpactFact[] }[], type: ImpactFact['type']) => impact.flatMap((i) => i.facts).filter((f) => f.type === type);
const numbers = (facts: readonly ImpactFact[]) => facts.flatMap((f) => ('extensions' in f ? f.extensions : []));

describe('a fresh plan of examples/multi-site', () => {
  const dir = 'examples/multi-site';
  const plan = async () => {
    const r = validateConfig(dir, { secrets: processSecretSource(envFor(dir)) });
    expect(r.ok).toBe(true);
    return makePlan(r.state, fixtureRuntime({ revision: 0, resources: [] }, { impact: fixtureImpact }), { root: dir, now: new Date('2026-06-01T12:00:00.000Z') });
  };

  it('starts no supervision: every extension is on a VTI-XML or SIP link, which have no driver', async () => {
    const p = await plan();
    expect(p.impact.supervisionStarts).toEqual([]);
    const reasons = p.impact.notSupervised.map((n) => n.reason);
    expect(reasons.length).toBeGreaterThan(0);
    for (const r of reasons) expect(r).toMatch(/^no (VTI-XML|SIP) driver \(PbxLink SSDEI\//);
    expect(reasons.some((r) => r.startsWith('no VTI-XML driver'))).toBe(true);
    expect(reasons.some((r) => r.startsWith('no SIP driver'))).toBe(true);
    expect(p.impact.notSupervised.flatMap((n) => n.extensions)).toHaveLength(18);
    const text = renderText(p, { colour: false });
    expect(text).not.toMatch(/supervision starts/);
    expect(text).toMatch(/configured, not supervised \(no VTI-XML driver \(PbxLink SSDEI\/[^)]+\)\): \d+ extension\(s\)/);
    expect(renderMarkdown(p)).toMatch(/configured, not supervised \(no VTI-XML driver/);
  });

  it('does not promise a synchronization of its TWSUsers directory; its LDAP directory runs', async () => {
    const p = await plan();
    const tws = p.impact.syncUnsupported.find((s) => s.target.startsWith('Directory '));
    expect(tws?.reason).toBe('directory type TWSUsers is not synchronized by this runtime (only LDAP and CSV are)');
    expect(p.impact.syncReruns.some((s) => s.target === tws!.target)).toBe(false);
    expect(p.impact.syncReruns.some((s) => s.target.startsWith('Directory ') && s.reason === 'new: runs a first synchronization')).toBe(true);
    expect(renderText(p, { colour: false })).toContain(`does not synchronize ${tws!.target} (directory type TWSUsers is not synchronized by this runtime`);
  });
});

describe('supervision in the runtime impact', () => {
  const opened: Runtime[] = [];
  afterEach(async () => {
    for (const rt of opened.splice(0)) await rt.close();
  });
  const runtime = async () => {
    const rt = await open(tempDir(), { startEngines: false });
    opened.push(rt);
    return rt;
  };

  it('a CSTA link with room: supervision starts (its link created in the same change set)', async () => {
    const rt = await runtime();
    const impact = rt.impact(creates(quickstart()));
    expect(numbers(factsOf(impact, 'supervision-start')).sort()).toEqual(['1001', '1002', '1003', '1004', '1005']);
    expect(factsOf(impact, 'not-supervised')).toEqual([]);
  });

  it('195 extensions on a new capacity-100 link: 100 start, 95 over capacity (the highest numbers, as validate says)', async () => {
    const rt = await runtime();
    const impact = rt.impact([...creates(quickstart()), ...moreUsers(190)]);
    const started = numbers(factsOf(impact, 'supervision-start'));
    const over = factsOf(impact, 'not-supervised');
    expect(started).toHaveLength(100);
    expect(numbers(over)).toHaveLength(95);
    expect(new Set(over.map((f) => (f as { reason: string }).reason))).toEqual(new Set(['over capacity: PbxLink acme/paris/pbx supervises at most 100 extensions']));
    expect(numbers(over).sort()).toEqual(Array.from({ length: 95 }, (_, i) => String(2095 + i)).sort());
  });

  it('a running link keeps the extensions it supervises and gives its free slots to the new ones', async () => {
    const rt = await runtime();
    rt.apply(changeSet(0, creates(quickstart())));
    // Lower numbers than the five supervised ones: they do not displace them.
    const impact = rt.impact(moreUsers(100, 100));
    expect(numbers(factsOf(impact, 'supervision-start'))).toEqual(Array.from({ length: 95 }, (_, i) => String(100 + i)));
    expect(numbers(factsOf(impact, 'not-supervised'))).toEqual(['195', '196', '197', '198', '199']);
    expect(factsOf(impact, 'supervision-stop')).toEqual([]);
  });

  it('a device on a link without a driver, or with no link of its protocol, says so', async () => {
    const rt = await runtime();
    rt.apply(changeSet(0, creates(quickstart())));
    const impact = rt.impact([
      { action: 'create', kind: 'PbxLink', id: 'acme/paris/vti', body: { domain: 'acme/paris', name: 'vti', protocol: 'vtixml', ip: '192.0.2.20' } },
      { action: 'create', kind: 'User', id: 'acme/paris/v1', body: { domain: 'acme/paris', username: 'v1', devices: [{ number: '3001', protocol: 'VTI-XML' }] } },
      { action: 'create', kind: 'User', id: 'acme/paris/s1', body: { domain: 'acme/paris', username: 's1', devices: [{ number: '3002', protocol: 'SIP' }] } },
    ]);
    expect(impact).toEqual([
      { index: 1, facts: [{ type: 'not-supervised', engine: 'pbx-links', extensions: ['3001'], reason: 'no VTI-XML driver (PbxLink acme/paris/vti)' }] },
      { index: 2, facts: [{ type: 'not-supervised', engine: 'pbx-links', extensions: ['3002'], reason: 'no SIP link in domain acme/paris' }] },
    ]);
  });

  it('a CSTA link turned VTI-XML restarts, and then supervises none of its extensions', async () => {
    const rt = await runtime();
    rt.apply(changeSet(0, creates(quickstart())));
    const link = rt.get('PbxLink', 'acme/paris/pbx')!;
    expect(rt.impact([{ action: 'update', kind: 'PbxLink', id: link.id, body: { ...link.body, protocol: 'vtixml' } }])[0]?.facts).toEqual([
      { type: 'restart', engine: 'pbx-links', target: 'PbxLink acme/paris/pbx', reason: 'protocol changed: the link reconnects', extensionsInterrupted: 5 },
      { type: 'not-supervised', engine: 'pbx-links', extensions: ['1001', '1002', '1003', '1004', '1005'], reason: 'no VTI-XML driver (PbxLink acme/paris/pbx)' },
    ]);
  });

  it('a deleted link: its extensions stop, then the next link of the domain carries those naming no link, as far as its capacity goes', async () => {
    const rt = await runtime();
    rt.apply(changeSet(0, creates(quickstart())));
    const link = rt.get('PbxLink', 'acme/paris/pbx')!;
    // A second CSTA link, later in name order, with room for 3 of the 5.
    const spare = { ...link.body, name: 'pbx2', ip: '192.0.2.30', capacity: 3, password: 'spare-Pa55w0rd' };
    // Four users whose devices name no link: carried by the first CSTA link by name, pbx.
    const applied = rt.apply(changeSet(rt.state().revision, [{ action: 'create', kind: 'PbxLink', id: 'acme/paris/pbx2', body: spare }, ...moreUsers(4, 3000)]));
    expect(applied.ok ? 'ok' : JSON.stringify(applied)).toBe('ok');
    expect(rt.impact([{ action: 'delete', kind: 'PbxLink', id: link.id }])[0]?.facts).toEqual([
      { type: 'supervision-stop', engine: 'pbx-links', extensions: ['1001', '1002', '1003', '1004', '1005', '3000', '3001', '3002', '3003'] },
      { type: 'supervision-start', engine: 'pbx-links', extensions: ['3000', '3001', '3002'] },
      { type: 'not-supervised', engine: 'pbx-links', extensions: ['3003'], reason: 'over capacity: PbxLink acme/paris/pbx2 supervises at most 3 extensions' },
      // quickstart's devices name link pbx: no other link carries them.
      { type: 'not-supervised', engine: 'pbx-links', extensions: ['1001', '1002', '1003', '1004', '1005'], reason: "no link 'pbx' in domain acme/paris" },
    ]);
  });

  it('an A5000 INT import is not promised a run; an LDAP one is', async () => {
    const rt = await runtime();
    rt.apply(changeSet(0, creates(quickstart())));
    const a5000 = { domain: 'acme/paris', name: 'int', source: 'a5000' };
    expect(rt.impact([{ action: 'create', kind: 'UserImport', id: 'acme/paris/int', body: a5000 }])).toEqual([
      { index: 0, facts: [{ type: 'sync-unsupported', engine: 'sync-schedules', target: 'UserImport acme/paris/int', reason: 'import source a5000 is not imported by this runtime (only ldap and activeDirectory are)' }] },
    ]);
    const ldap = { domain: 'acme/paris', name: 'ad', source: 'ldap', connection: { host: 'dc1', port: 389, baseDn: 'dc=acme' } };
    expect(rt.impact([{ action: 'create', kind: 'UserImport', id: 'acme/paris/ad', body: ldap }])[0]?.facts).toEqual([{ type: 'sync-rerun', engine: 'sync-schedules', target: 'UserImport acme/paris/ad', reason: 'new: runs a first synchronization' }]);
  });

  it('a directory of a type the runtime does not read: no synchronization promised, on create or update', async () => {
    const rt = await runtime();
    rt.apply(changeSet(0, creates(quickstart())));
    const dir = { domain: 'acme/paris', name: 'tws', serverType: 'TWSUsers' };
    expect(rt.impact([{ action: 'create', kind: 'Directory', id: 'acme/paris/tws', body: dir }])).toEqual([
      { index: 0, facts: [{ type: 'sync-unsupported', engine: 'sync-schedules', target: 'Directory acme/paris/tws', reason: 'directory type TWSUsers is not synchronized by this runtime (only LDAP and CSV are)' }] },
    ]);
    // An LDAP directory turned TWSUsers: its synchronization stops being possible, and the plan says so.
    const ldap = { domain: 'acme/paris', name: 'ldap', serverType: 'LDAP', connection: { host: 'ldap1', port: 389, baseDn: 'dc=acme' } };
    expect(rt.apply(changeSet(rt.state().revision, [{ action: 'create', kind: 'Directory', id: 'acme/paris/ldap', body: ldap }]))).toMatchObject({ ok: true });
    expect(rt.impact([{ action: 'update', kind: 'Directory', id: 'acme/paris/ldap', body: { ...ldap, serverType: 'TWSUsers' } }])[0]?.facts).toEqual([
      { type: 'sync-unsupported', engine: 'sync-schedules', target: 'Directory acme/paris/ldap', reason: 'directory type TWSUsers is not synchronized by this runtime (only LDAP and CSV are)' },
    ]);
  });
});
