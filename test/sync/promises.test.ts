/**
 * The promises of docs/sync.md that need no LDAP server, each with its test: the planner's
 * rules (a lost number, AD-disabled accounts, twins, device defaults, config-owned groups),
 * one run against a real runtime with the source injected (a concurrent commit re-plans once,
 * a runtime refusal writes nothing, a lost record converges, the defaults a run passes to the
 * LDAP client), run records (20 runs, 200 notes), directory rules (unsupported and disabled
 * directories, phone values per field, the red list over every number, text limits), and the
 * value checks every sync shares with the schemas.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compileDialPlan, isCompiled, resolveDialPlan } from '../../src/dialplan/index.js';
import { clipCodePoints, emailProblem, phoneProblem, photoProblem, textProblem, withoutFormatCharacters } from '../../src/model/field-checks.js';
import { fieldPatternProblem, parseFieldExpressionSyntax } from '../../src/model/field-expression.js';
import { DirectorySyncEngine } from '../../src/runtime/engines/user-import.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { Change, LiveResource } from '../../src/runtime/types.js';
import { contactsOf, MAX_PHONE_VALUES, sourceRow } from '../../src/sync/directory.js';
import { contactIdentifier, runDirectory } from '../../src/sync/directory-run.js';
import type { LdapConnection, LdapEntry, LdapSearch } from '../../src/sync/ldap.js';
import { lookupContacts } from '../../src/sync/lookup.js';
import { keptNotes, KEEP_NOTES, recordRun, runHistory, runUserImport, stateFile } from '../../src/sync/run.js';
import { planUserImport, sourceUsers, resolveMapping, type ImportSettings, type SourceUser } from '../../src/sync/user-import.js';
import { changeSet, creates, open, quickstart, tempDir } from '../runtime/helpers.js';

const live = (kind: LiveResource['kind'], id: string, body: Record<string, unknown>, manager: LiveResource['manager'] = 'import:ad'): LiveResource => ({ kind, id, body, manager, revision: 1, updatedAt: '', updatedBy: '', updatedVia: 'sync' });
const settings = (over: Partial<ImportSettings> = {}): ImportSettings => ({ id: 'acme/paris/ad', domain: 'acme/paris', name: 'ad', syncMode: 'insertUpdateDelete', deviceDefaults: {}, ...over });
const src = (i: number, over: Partial<SourceUser> = {}): SourceUser => ({ dn: `cn=u${i}`, identifier: `id${i}`, username: `u${i}`, number: String(5000 + i), disabled: false, warnings: [], ...over });
const user = (i: number, over: Record<string, unknown> = {}) => live('User', `acme/paris/u${i}`, { domain: 'acme/paris', username: `u${i}`, devices: [{ number: String(5000 + i), protocol: 'CSTA' }], ...over });

describe('the user-import planner (docs/sync.md, Mapping and Sync modes)', () => {
  it('losing a number never deletes or disables a user: the entry is ignored and counted, the user kept', () => {
    const p = planUserImport(settings(), [src(1, { number: undefined }), src(2)], [user(1), user(2)], { id1: 'u1', id2: 'u2' });
    expect(p.counts).toMatchObject({ ignored: 1, deleted: 0, disabled: 0, unchanged: 1 });
    expect(p.changes).toEqual([]);
  });

  it('an AD account with bit 0x2: an existing user is disabled (counted as disabled), a new one is not created (ignored)', () => {
    const p = planUserImport(settings(), [src(1, { disabled: true }), src(2, { disabled: true })], [user(1)], { id1: 'u1' });
    expect(p.counts).toMatchObject({ disabled: 1, ignored: 1, created: 0 });
    expect(p.changes).toEqual([{ action: 'update', kind: 'User', id: 'acme/paris/u1', body: { ...user(1).body, enabled: false } }]);
  });

  it('a duplicate identifier, a username two entries share, an invalid username: errors, the entry skipped, the rest goes on', () => {
    const p = planUserImport(settings(), [src(1), src(2, { identifier: 'id1' }), src(3, { username: 'u1' }), src(4, { username: 'a/b' }), src(5, { username: 'x\u0000y' }), src(6)], [], {});
    expect(p.counts).toMatchObject({ created: 2, errors: 4 });
    expect(p.notes.map((n) => n.message)).toEqual([
      'cn=u2: identifier id1 appears twice in the source: skipped',
      'cn=u3: username "u1" is also the username of cn=u1: skipped',
      'cn=u4: username "a/b" is not a valid name (1 to 128 characters, no slash, no control character, not starting with a space): skipped',
      'cn=u5: username "x\\u0000y" is not a valid name (1 to 128 characters, no slash, no control character, not starting with a space): skipped',
    ]);
  });

  it('other multi-valued attributes give their lowest value, whatever order the server sends', () => {
    for (const order of [['Zed', 'Adam'], ['Adam', 'Zed']]) {
      const [u] = sourceUsers([{ dn: 'cn=x', attrs: new Map<string, (string | Buffer)[]>([['objectguid', [guid(1)]], ['samaccountname', ['x']], ['givenname', order]]) }], resolveMapping('activeDirectory', undefined));
      expect(u!.firstName).toBe('Adam');
    }
  });

  it('several numbers: the values that become extensions are candidates, the lowest is the device — in any order', () => {
    for (const numbers of [['7002', '+33 1 23', '7001'], ['7001', '7002'], ['+33 1 23', '7002', '7001']]) {
      const p = planUserImport(settings(), [src(1, { number: numbers[0], numbers })], [], {});
      expect(p.changes[0]).toMatchObject({ action: 'create', body: { devices: [{ number: '7001' }] } });
    }
  });

  it('created users: deviceDefaults protocol (CSTA when unset), video, a SIP soft phone with sipProxy, culture', () => {
    const csta = planUserImport(settings({ culture: 'fr-FR' }), [src(1)], [], {});
    expect(csta.changes[0]).toMatchObject({ body: { culture: 'fr-FR', devices: [{ number: '5001', protocol: 'CSTA' }] } });
    const sip = planUserImport(settings({ deviceDefaults: { protocol: 'SIP', video: true, sipProxy: 'sip.example.com' } }), [src(1)], [], {});
    expect(sip.changes[0]).toMatchObject({ body: { devices: [{ number: '5001', protocol: 'SIP', video: true, softphone: { sipProxy: 'sip.example.com' } }] } });
  });

  it('a group managed by config is never changed: the run notes a warning', () => {
    const group = live('Group', 'acme/paris/All', { domain: 'acme/paris', name: 'All', members: ['alice'] }, 'config');
    const p = planUserImport(settings({ group: 'All' }), [src(1)], [group], {});
    expect(p.changes.filter((c) => c.kind === 'Group')).toEqual([]);
    expect(p.notes).toContainEqual({ level: 'warning', message: "group 'All' is managed by config: the import does not add its users to it (list them there, or let the import create its own group)" });
  });
});

// ---------------------------------------------------------------------------------------

const opened: Runtime[] = [];
afterEach(async () => {
  for (const rt of opened.splice(0)) await rt.close();
});
async function runtimeWithImport(): Promise<Runtime> {
  const rt = await open(tempDir(), { startEngines: false });
  opened.push(rt);
  expect(rt.apply(changeSet(0, creates(quickstart())))).toMatchObject({ ok: true });
  const body = { domain: 'acme/paris', name: 'ad', source: 'activeDirectory', connection: { host: 'dc1.example.com', baseDn: 'dc=example,dc=com' } };
  expect(rt.apply(changeSet(rt.revision(), [{ action: 'create', kind: 'UserImport', id: 'acme/paris/ad', body }]))).toMatchObject({ ok: true });
  return rt;
}
const guid = (i: number) => Buffer.from(String(i).padStart(16, '0'));
const adEntries = (n: number): LdapEntry[] =>
  Array.from({ length: n }, (_, i) => ({ dn: `cn=u${i}`, attrs: new Map<string, (string | Buffer)[]>([['objectguid', [guid(i)]], ['samaccountname', [`imp${i}`]], ['telephonenumber', [String(6000 + i)]], ['sn', [`Last${i}`]]]) }));

/** The runtime, but someone commits right after each snapshot a run takes (`times` times). */
function concurrent(rt: Runtime, times: number): Runtime {
  let left = times;
  return new Proxy(rt, {
    get(target, prop) {
      if (prop === 'state') {
        return (...args: Parameters<Runtime['state']>) => {
          const snapshot = target.state(...args);
          if (left-- > 0) {
            const g = target.get('Group', 'acme/paris/All') ?? target.state().resources.find((r) => r.kind === 'Group')!;
            expect(target.apply(changeSet(target.revision(), [{ action: 'update', kind: 'Group', id: g.id, body: { ...g.body, description: `edit ${left}` } } as Change]))).toMatchObject({ ok: true });
          }
          return snapshot;
        };
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe('one run against a real runtime, the source injected (docs/sync.md, What a run does)', () => {
  it('someone committed meanwhile: the run plans once more against the new state and applies', async () => {
    const rt = await runtimeWithImport();
    const r = await runUserImport(concurrent(rt, 1), 'acme/paris/ad', { search: async () => adEntries(3) });
    expect(r).toMatchObject({ outcome: 'applied', counts: { created: 3 } });
  });

  it('a change set the runtime refuses (stale twice): the run fails and nothing is written', async () => {
    const rt = await runtimeWithImport();
    const users = () => rt.state().resources.filter((x) => x.kind === 'User').length;
    const before = users();
    const r = await runUserImport(concurrent(rt, 2), 'acme/paris/ad', { search: async () => adEntries(3) });
    expect(r.outcome).toBe('failed');
    expect(r.message).toMatch(/^the runtime refused the change set \(stale\).*; nothing was changed$/);
    expect(users()).toBe(before);
  });

  it('a lost run record: the next run matches by username and converges (nothing to write)', async () => {
    const rt = await runtimeWithImport();
    expect(await runUserImport(rt, 'acme/paris/ad', { search: async () => adEntries(4) })).toMatchObject({ outcome: 'applied', counts: { created: 4 } });
    rmSync(stateFile(rt.dataDir, 'UserImport', 'acme/paris/ad'));
    const revision = rt.revision();
    expect(await runUserImport(rt, 'acme/paris/ad', { search: async () => adEntries(4) })).toMatchObject({ outcome: 'unchanged', counts: { unchanged: 4 } });
    expect(rt.revision()).toBe(revision);
  });

  it('the defaults a run hands the LDAP client: 30 s timeout, the server default page size (0 → 1,000), no size limit; the filter as configured', async () => {
    const rt = await runtimeWithImport();
    let seen: [LdapConnection, LdapSearch] | undefined;
    await runUserImport(rt, 'acme/paris/ad', { dryRun: true, search: async (c, s) => ((seen = [c, s]), adEntries(1)) });
    expect(seen![0]).toMatchObject({ host: 'dc1.example.com', tls: 'none', timeoutMs: 30_000 });
    expect(seen![1]).toMatchObject({ baseDn: 'dc=example,dc=com', pageSize: 0, sizeLimit: 0 });
  });
});

describe('schedules (docs/sync.md, Schedules and status)', () => {
  it('one run per directory at a time: a second request while one runs gets the same run', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'c.csv'), 'id,sn\n1,A\n2,B\n');
    const rt = await open(tempDir(), { startEngines: false, filesDir: dir });
    opened.push(rt);
    expect(rt.apply(changeSet(0, creates(quickstart())))).toMatchObject({ ok: true });
    const body = { domain: 'acme/paris', name: 'C', serverType: 'CSV', connection: { path: 'c.csv' }, fields: { identifier: 'id', lastName: 'sn' } };
    expect(rt.apply(changeSet(rt.revision(), [{ action: 'create', kind: 'Directory', id: 'acme/paris/C', body }]))).toMatchObject({ ok: true });
    const engine = new DirectorySyncEngine(() => rt);
    const log = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };
    await engine.start({ now: () => new Date(), log } as never, rt.state().resources.filter((r) => r.kind === 'Directory'));
    try {
      const [a, b] = await Promise.all([engine.runNow('acme/paris/C'), engine.runNow('acme/paris/C')]);
      expect(a).toBe(b);
      expect(a).toMatchObject({ outcome: 'applied', counts: { created: 2 } });
      expect(runHistory(rt.dataDir, 'Directory', 'acme/paris/C')).toHaveLength(1);
    } finally {
      await engine.stop();
    }
  });
});

describe('run records (docs/sync.md, Run records)', () => {
  it('keep the last 20 runs, newest first', () => {
    const dir = tempDir();
    for (let i = 0; i < 25; i++) recordRun(dir, { kind: 'Directory', id: 'acme/paris/D', startedAt: `t${i}`, endedAt: `t${i}`, dryRun: false, outcome: 'unchanged', sourceEntries: i, managed: 0, counts: { created: 0, updated: 0, disabled: 0, deleted: 0, ignored: 0, errors: 0, unchanged: 0 }, notes: [] });
    const history = runHistory(dir, 'Directory', 'acme/paris/D');
    expect(history).toHaveLength(20);
    expect(history[0]!.sourceEntries).toBe(24);
  });
  it('keep 200 notes, the last saying how many more there were', () => {
    const notes = Array.from({ length: 450 }, (_, i) => ({ level: 'warning' as const, message: `n${i}` }));
    const kept = keptNotes(notes);
    expect(kept).toHaveLength(KEEP_NOTES);
    expect(kept.at(-1)).toEqual({ level: 'warning', message: '251 more notes not kept' });
    expect(keptNotes(notes.slice(0, 200))).toHaveLength(200);
  });
});

// ---------------------------------------------------------------------------------------

describe('directories (docs/sync.md, Directories)', () => {
  it('an unsupported serverType or a disabled directory: failed, nothing changed', async () => {
    const rt = await open(tempDir(), { startEngines: false });
    opened.push(rt);
    expect(rt.apply(changeSet(0, creates(quickstart())))).toMatchObject({ ok: true });
    const dirs = [
      { domain: 'acme/paris', name: 'EWS', serverType: 'ExchangeEWS', connection: { url: 'https://outlook.office365.com/ews/Exchange.asmx' } },
      { domain: 'acme/paris', name: 'Old', serverType: 'CSV', type: 'disabled', connection: { path: 'x.csv' } },
    ];
    expect(rt.apply(changeSet(rt.revision(), dirs.map((body) => ({ action: 'create' as const, kind: 'Directory' as const, id: `acme/paris/${body.name}`, body }))))).toMatchObject({ ok: true });
    const revision = rt.revision();
    expect(await runDirectory(rt, 'acme/paris/EWS')).toMatchObject({ outcome: 'failed', message: expect.stringMatching(/serverType ExchangeEWS is not supported by this runtime \(LDAP and CSV are\); nothing was changed/) });
    expect(await runDirectory(rt, 'acme/paris/Old')).toMatchObject({ outcome: 'failed', message: expect.stringMatching(/is of type disabled: it is never synchronized; nothing was changed/) });
    expect(rt.revision()).toBe(revision);
  });

  it(`a phone field keeps at most ${MAX_PHONE_VALUES} numbers (a warning beyond); the red list hides every one, each still identifies the caller`, () => {
    const many = Array.from({ length: 25 }, (_, i) => `+33 1 40 00 ${String(10 + i)} 00`);
    const body = { domain: 'acme/paris', name: 'D', fields: { identifier: 'id', lastName: 'sn', businessPhone: 'tel' }, redList: { businessPhone: 'private' } };
    const { contacts, notes } = contactsOf(body, [sourceRow('cn=a', { id: 'a', sn: 'A', tel: many, private: 'yes' })]);
    expect(contacts[0]!.additionalPhones!.businessPhone).toHaveLength(MAX_PHONE_VALUES - 1);
    expect(notes.map((n) => n.message)).toEqual(['cn=a: businessPhone has 25 values: the first 20 are kept']);
    const compiled = compileDialPlan(resolveDialPlan({ internalLength: 4, countryCode: '33', externalPrefix: '0', internationalPrefix: '00', inverseLength: 9 }));
    if (!isCompiled(compiled)) throw new Error('dial plan');
    const m = lookupContacts(compiled, contacts, '01 40 00 15 00');
    expect(m).toEqual([expect.objectContaining({ field: 'businessPhone', redListed: true })]);
    expect(m[0]).not.toHaveProperty('number');
  });

  it('an identifier that cannot be part of an id is stored as its digest', () => {
    expect(contactIdentifier('S-1-5-21-1000')).toBe('S-1-5-21-1000');
    for (const bad of ['a/b', ' lead', 'tab\there', 'x'.repeat(129)]) expect(contactIdentifier(bad)).toMatch(/^[0-9a-f]{32}$/);
  });

  it('text fields: control characters refused, line breaks only in private fields, at most 4,096 characters', () => {
    const body = { domain: 'acme/paris', name: 'D', fields: { identifier: 'id', lastName: 'sn', company: 'o', private0: 'addr|a', private1: 'notes' } };
    const { contacts, notes } = contactsOf(body, [sourceRow('line 2', { id: 'a', sn: 'A\nB', o: 'Acme\u0000', addr: '1 rue X\r\n75001 Paris', notes: 'x'.repeat(4097) })]);
    expect(contacts[0]!.fields).toEqual({ private0: '1 rue X\r\n75001 Paris' });
    expect(notes.map((n) => n.message)).toEqual([
      'line 2: lastName "A\\nB" holds a control character U+000A: left out',
      'line 2: company "Acme\\u0000" holds a control character U+0000: left out',
      `line 2: private1 "${'x'.repeat(77)}..." is longer than 4096 characters: left out`,
    ]);
  });
});

describe('value checks shared by the schemas and every sync (src/model/field-checks.ts)', () => {
  it('e-mail: at most 254 characters, name@host.tld in ASCII', () => {
    expect(emailProblem(`${'a'.repeat(64)}@${'b'.repeat(185)}.com`)).toBeUndefined(); // 254
    expect(emailProblem(`${'a'.repeat(64)}@${'b'.repeat(186)}.com`)).toBe('is longer than 254 characters');
    expect(emailProblem('jean@société.fr')).toMatch(/is not a valid e-mail address/);
    expect(emailProblem('jean@xn--socit-esab.fr')).toBeUndefined();
  });
  it('phone numbers: 64 characters, phone characters only, a digit; invisible format characters are removed first', () => {
    expect(phoneProblem('+33 (0)1 23-45.67/89 *21#')).toBeUndefined();
    expect(phoneProblem('1'.repeat(65))).toBe('is longer than 64 characters');
    expect(phoneProblem('() -')).toBe('has no digit');
    expect(withoutFormatCharacters('\u202a+33 1 23 45 67 89\u202c\u200e')).toBe('+33 1 23 45 67 89');
    const [u] = sourceUsers([{ dn: 'cn=x', attrs: new Map<string, (string | Buffer)[]>([['objectguid', [guid(1)]], ['samaccountname', ['x']], ['mobile', ['\ufeff\u202a+33 6 12 34 56 78\u202c']]]) }], resolveMapping('activeDirectory', { mobile: 'mobile' }));
    expect(u!.mobile).toBe('+33 6 12 34 56 78');
  });
  it('photos: an http(s) URL of at most 2,048 characters, or a data:image URL of at most 100 KiB', () => {
    expect(photoProblem('https://example.com/p.jpg')).toBeUndefined();
    expect(photoProblem('ftp://example.com/p.jpg')).toMatch(/not a picture URL/);
    expect(photoProblem(`https://example.com/${'x'.repeat(2048)}`)).toBe('is longer than 2048 characters');
    expect(photoProblem(`data:image/png;base64,${Buffer.alloc(100 * 1024).toString('base64')}`)).toBeUndefined();
    expect(photoProblem(`data:image/png;base64,${Buffer.alloc(100 * 1024 + 3).toString('base64')}`)).toBe('is 101 KiB, over the 100 KiB limit for a photo');
    expect(photoProblem('data:text/html;base64,PGI+')).toMatch(/not a data:image/);
  });
  it('text: never cut inside a character; reserved fields refuse line breaks', () => {
    expect(clipCodePoints('😀😀😀', 2)).toBe('😀😀');
    expect(textProblem('a\nb', 4096, false)).toBe('holds a control character U+000A');
    expect(textProblem('\ud800x')).toBe('holds half of a character (lone surrogate) U+D800');
  });
  it('field expressions: at most 1,024 characters, a p: regular expression at most 512', () => {
    expect(() => parseFieldExpressionSyntax(`sn|p:${'x'.repeat(1020)}`)).toThrow(/longer than 1024 characters/);
    expect(() => parseFieldExpressionSyntax(`sn|p:{0}::${'a'.repeat(513)}`)).toThrow(/the p: regular expression is longer than 512 characters/);
    expect(fieldPatternProblem('(a')).toBe("a '(' is never closed: add the ')', or write \\( for a literal parenthesis");
  });
});
