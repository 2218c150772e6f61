/**
 * Active-Directory-shaped entries in a real slapd, through a real runtime: one malformed
 * `mail` (or mobile, or name) never blocks an import — the value is left out with a warning
 * naming the entry and the field, the rest applies; two `telephoneNumber` values both identify
 * the caller; `jpegPhoto` / `thumbnailPhoto` are read as bytes and stored as data URLs, with a
 * size limit. LDAP failures are named (`invalid credentials (49)`), with Active Directory's
 * `data NNN` explained — against slapd, and against a loopback server speaking the LDAP wire
 * protocol the way a domain controller answers a bind. And a property: whatever the entries
 * hold, an import never produces a change set the runtime refuses.
 */
import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InvalidCredentialsError, InsufficientAccessError, NoSuchObjectError } from 'ldapts';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { LiveResource } from '../../src/runtime/types.js';
import { schemaRegistry } from '../../src/schema/registry.js';
import { contactsOf, imageDataUrl, readLdapDirectory, sourceRow, CONTACT_FIELDS } from '../../src/sync/directory.js';
import { contactBody, planContacts, runDirectory } from '../../src/sync/directory-run.js';
import { attrValues, describeLdapFailure, ldapResultName, ldapSearchAll, LdapError, sidToString, type LdapEntry } from '../../src/sync/ldap.js';
import { lookupCaller } from '../../src/sync/lookup.js';
import { liveDialPlan, runUserImport } from '../../src/sync/run.js';
import { importSettings, planUserImport, resolveMapping, sourceUsers } from '../../src/sync/user-import.js';
import { changeSet, creates, open, quickstart, tempDir } from '../runtime/helpers.js';
import { ADMIN_DN, ADMIN_PASSWORD, destroySlapd, hasSlapd, PEOPLE, person, startSlapd, type Slapd } from './slapd.js';
import { prng } from '../prng.js';

/** A real 1×1 JPEG (JFIF) and a real 1×1 PNG. */
const JPEG = Buffer.from('/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA=', 'base64');
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');
/** A JPEG of 150 KiB: over the 100 KiB limit. */
const BIG_JPEG = Buffer.concat([JPEG.subarray(0, 20), Buffer.alloc(150 * 1024, 0x55), Buffer.from([0xff, 0xd9])]);

const dnOf = (uid: string) => `uid=${uid},${PEOPLE}`;

/** The AD-shaped entries: each carries one thing a real directory holds that must not block anything. */
const PEOPLE_AD = [
  person(1, { mail: 'jean..dupont@example.com' }), // a typo the old import let through and the runtime refused
  person(2, { telephoneNumber: '20002', extra: { telephoneNumber: '+33 1 40 00 20 02' } }), // two numbers
  person(3, { extra: { jpegPhoto: JPEG } }),
  person(4, { extra: { jpegPhoto: BIG_JPEG } }),
  person(5, { givenName: 'Ann\u0007e', extra: { thumbnailPhoto: PNG } }), // a BEL pasted into a name
  person(6, { mobile: 'n/a' }),
  person(7, { sn: 'L'.repeat(200) }),
  person(8),
];

describe.skipIf(!hasSlapd())('Active-Directory-shaped entries against slapd', () => {
  let slapd: Slapd;
  beforeAll(async () => {
    slapd = await startSlapd(PEOPLE_AD);
  });
  afterAll(async () => destroySlapd(slapd));
  const opened: Runtime[] = [];
  afterEach(async () => {
    for (const rt of opened.splice(0)) await rt.close();
  });
  async function runtime(): Promise<Runtime> {
    const rt = await open(tempDir(), { startEngines: false });
    opened.push(rt);
    expect(rt.apply(changeSet(0, creates(quickstart())))).toMatchObject({ ok: true });
    return rt;
  }
  const connection = () => ({ host: slapd.host, port: slapd.port, login: ADMIN_DN, password: ADMIN_PASSWORD, baseDn: PEOPLE, filter: '(objectClass=inetOrgPerson)', timeoutSeconds: 5 });

  it('a user import: one bad mail, mobile or name is left out with a warning naming the entry and the field; the rest applies', async () => {
    const rt = await runtime();
    const body = { domain: 'acme/paris', name: 'ad', source: 'activeDirectory', connection: connection(), mapping: { mobile: 'mobile' } };
    expect(rt.apply(changeSet(rt.revision(), [{ action: 'create', kind: 'UserImport', id: 'acme/paris/ad', body }]))).toMatchObject({ ok: true });
    const r = await runUserImport(rt, 'acme/paris/ad');
    expect(r).toMatchObject({ outcome: 'applied', counts: { created: 8, errors: 0 } });
    const warnings = r.notes.filter((n) => n.level === 'warning').map((n) => n.message);
    expect(warnings).toEqual([
      `${dnOf('user00001')}: mail "jean..dupont@example.com" is not a valid e-mail address (name@host.tld, ASCII; an internationalized domain in its xn-- form): left out`,
      `${dnOf('user00005')}: firstName "Ann\\u0007e" holds a control character U+0007: left out`,
      `${dnOf('user00006')}: mobile "n/a" is not a phone number (digits, spaces and + ( ) . - / * # only): left out`,
      `${dnOf('user00007')}: lastName "${'L'.repeat(77)}..." is longer than 128 characters: cut`,
    ]);
    const user = (n: string) => rt.get('User', `acme/paris/user0000${n}`)!.body;
    expect(user('1')).toEqual({ domain: 'acme/paris', username: 'user00001', firstName: 'First00001', lastName: 'Last00001', devices: [{ number: '20001', protocol: 'CSTA' }] });
    expect(user('5')).not.toHaveProperty('firstName');
    expect(user('6')).not.toHaveProperty('mobile');
    expect(user('7').lastName).toBe('L'.repeat(128));
    // Two telephoneNumber values: the one that is an extension is the device.
    expect(user('2').devices).toEqual([{ number: '20002', protocol: 'CSTA' }]);
  });

  it('a directory: every telephoneNumber identifies the caller; photos are data URLs; an oversized one is left out with a warning', async () => {
    const rt = await runtime();
    const body = {
      domain: 'acme/paris',
      name: 'AD',
      serverType: 'LDAP',
      priority: 1,
      connection: { ...connection(), login: undefined, user: ADMIN_DN },
      fields: { identifier: 'objectGUID', lastName: 'sn', firstName: 'givenName', businessPhone: 'telephoneNumber', email1: 'mail', photo: 'jpegPhoto' },
    };
    delete (body.connection as Record<string, unknown>).login;
    delete (body.connection as Record<string, unknown>).timeoutSeconds;
    expect(rt.apply(changeSet(rt.revision(), [{ action: 'create', kind: 'Directory', id: 'acme/paris/AD', body }]))).toMatchObject({ ok: true });
    const r = await runDirectory(rt, 'acme/paris/AD');
    expect(r).toMatchObject({ outcome: 'applied', counts: { created: 8 } });
    expect(r.notes.map((n) => n.message)).toEqual([
      `${dnOf('user00004')}: jpegPhoto is 151 KiB, over the 100 KiB limit for a photo: left out`,
      `${dnOf('user00001')}: email1 "jean..dupont@example.com" is not a valid e-mail address (name@host.tld, ASCII; an internationalized domain in its xn-- form): left out`,
      `${dnOf('user00005')}: firstName "Ann\\u0007e" holds a control character U+0007: left out`,
    ]);
    const contact = (n: number) => rt.state().resources.find((c) => c.kind === 'Contact' && (c.body.fields as Record<string, string>).lastName === `Last0000${n}`)!;
    // Both numbers, sorted (LDAP gives values in no particular order).
    expect(contact(2).body).toMatchObject({ fields: { businessPhone: '+33 1 40 00 20 02' }, additionalPhones: { businessPhone: ['20002'] } });
    expect((contact(3).body.fields as Record<string, string>).photo).toBe(`data:image/jpeg;base64,${JPEG.toString('base64')}`);
    expect(contact(4).body.fields).not.toHaveProperty('photo');
    expect((contact(4).body.fields as Record<string, string>).businessPhone).toBe('20004');
    // A caller on the second number is identified.
    const state = rt.state({ company: 'acme' });
    const compiled = liveDialPlan(state.resources, 'acme/paris')!;
    for (const number of ['+33 1 40 00 20 02', '20002']) {
      const found = lookupCaller(compiled, state.resources, 'acme/paris', number);
      expect(found.matches.map((m) => [m.id, m.field, m.number])).toEqual([[contact(2).id, 'businessPhone', number]]);
    }
    // thumbnailPhoto (a PNG) through the same path.
    const { rows } = await readLdapDirectory({ ...body, fields: { identifier: 'objectGUID', photo: 'thumbnailPhoto' } }, ADMIN_PASSWORD, { port: slapd.port });
    const thumb = rows.find((row) => row.where === dnOf('user00005'))!;
    expect(thumb.values.get('thumbnailPhoto')).toEqual([`data:image/png;base64,${PNG.toString('base64')}`]);
  });

  it('a wrong password names the result: invalid credentials (49), never a bare "Code: 0x31"', async () => {
    const err = await ldapSearchAll({ host: slapd.host, port: slapd.port, login: ADMIN_DN, password: 'wrong', timeoutMs: 5000 }, { baseDn: PEOPLE, attributes: ['uid'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LdapError);
    expect((err as LdapError).code).toBe('bind');
    expect((err as Error).message).toMatch(/^LDAP bind as "cn=admin,dc=example,dc=com" to ldap:\/\/127\.0\.0\.1:\d+ failed: invalid credentials \(49\).*: check connection\.login and the password$/);
    expect((err as Error).message).not.toMatch(/Code: 0x/);
    const missing = await ldapSearchAll({ host: slapd.host, port: slapd.port, login: ADMIN_DN, password: ADMIN_PASSWORD, timeoutMs: 5000 }, { baseDn: 'ou=nowhere,dc=example,dc=com', attributes: ['uid'] }).catch((e: unknown) => e);
    expect((missing as Error).message).toMatch(/does not exist on ldap:\/\/127\.0\.0\.1:\d+ \(no such object \(32\).*check connection\.baseDn\)$/);
  });
});

// ---------------------------------------------------------------------------------------
// A domain controller's bind answer, over the wire

/** BER length. */
const len = (n: number) => (n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff]);
const tlv = (tag: number, body: number[]) => [tag, ...len(body.length), ...body];

/**
 * A loopback server that answers every BindRequest the way Active Directory refuses one:
 * BindResponse resultCode 49 with AD's diagnostic message (`…, data 775, v4563` and a NUL).
 */
async function fakeDomainController(data: string): Promise<{ server: Server; port: number }> {
  const message = Buffer.from(`80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data ${data}, v4563\0`);
  const server = createServer((socket) => {
    socket.on('data', (d) => {
      // LDAPMessage: 30 len 02 01 <id> 60 … (BindRequest, [APPLICATION 0])
      const id = d[4]!;
      if (d[5] === 0x60) {
        const response = tlv(0x30, [...tlv(0x02, [id]), ...tlv(0x61, [...tlv(0x0a, [49]), ...tlv(0x04, []), ...tlv(0x04, [...message])])]);
        socket.write(Buffer.from(response));
      } else socket.end();
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('LDAP failures are named, Active Directory sub-codes explained', () => {
  it.each([
    ['52e', 'the password is wrong'],
    ['775', 'the account is locked out'],
    ['532', 'the password has expired'],
    ['533', 'the account is disabled'],
    ['701', 'the account has expired'],
    ['773', 'the password must be reset before the account may log on'],
    ['525', 'the account does not exist'],
  ])('a domain controller refusing the bind with data %s', async (data, explained) => {
    const { server, port } = await fakeDomainController(data);
    try {
      const err = await ldapSearchAll({ host: '127.0.0.1', port, login: 'SSDEI\\twsimport', password: 'x', timeoutMs: 3000 }, { baseDn: 'DC=SSDEI,DC=local', attributes: ['sAMAccountName'] }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'bind' });
      expect((err as Error).message).toBe(
        `LDAP bind as "SSDEI\\\\twsimport" to ldap://127.0.0.1:${port} failed: invalid credentials (49) — the server says "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data ${data}, v4563" (Active Directory data ${data}: ${explained}): check connection.login and the password`,
      );
    } finally {
      server.close();
    }
  });

  it('every RFC 4511 result code has a name', () => {
    const rfc4511 = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 16, 17, 18, 19, 20, 21, 32, 33, 34, 36, 48, 49, 50, 51, 52, 53, 54, 64, 65, 66, 67, 68, 69, 71, 80];
    const later = [9, 118, 119, 120, 121, 122, 123, 4096]; // LDAPv2 referral, RFC 3909, 4528, 4370, 4533
    const client = Array.from({ length: 17 }, (_, i) => 81 + i); // the LDAP C API's client-side codes
    for (const code of [...rfc4511, ...later, ...client]) expect(ldapResultName(code)).toMatch(new RegExp(`^[A-Za-z][A-Za-z0-9 ()-]+ \\(${code}\\)$`));
    expect(ldapResultName(49)).toBe('invalid credentials (49)');
    expect(ldapResultName(4711)).toBe('result code 4711');
  });

  it('ldapts errors: the name, the server text without "Code: 0x…", the hint', () => {
    expect(describeLdapFailure(new InvalidCredentialsError(''))).toBe('invalid credentials (49): check connection.login and the password');
    expect(describeLdapFailure(new InsufficientAccessError('no read access'))).toBe('insufficient access rights (50) — the server says "no read access": the account may not read these entries: grant it read access, or bind with another account');
    expect(describeLdapFailure(new NoSuchObjectError())).toMatch(/^no such object \(32\) — the server says ".*": check connection\.baseDn$/);
    expect(describeLdapFailure(new Error('connect ECONNREFUSED 127.0.0.1:1'))).toBe('connect ECONNREFUSED 127.0.0.1:1');
  });
});

// ---------------------------------------------------------------------------------------
// Values, without a server

const entry = (dn: string, attrs: Record<string, (string | Buffer)[]>): LdapEntry => ({ dn, attrs: new Map(Object.entries(attrs).map(([k, v]) => [k.toLowerCase(), v])) });

describe('LDAP values', () => {
  it('a text attribute whose value is not UTF-8 is not decoded into U+FFFD: it is left out with a warning', () => {
    const e = entry('cn=x', { objectguid: [Buffer.alloc(16, 1)], samaccountname: ['x'], sn: [Buffer.from([0x4d, 0xfc, 0x6c, 0x6c, 0x65, 0x72])], telephonenumber: ['1234'] });
    const [u] = sourceUsers([e], resolveMapping('activeDirectory', undefined));
    expect(u).toMatchObject({ username: 'x', number: '1234', warnings: ['lastName (sn) is not valid UTF-8 text: left out'] });
    expect(u).not.toHaveProperty('lastName');
    // ldapts hands over all values as bytes when one is not UTF-8: the valid ones are kept.
    expect(attrValues(entry('cn=y', { telephonenumber: [Buffer.from('2001'), Buffer.from([0xff])] }), 'telephoneNumber')).toEqual({ text: ['2001'], notText: [Buffer.from([0xff])] });
  });

  it('GUIDs and SIDs in their text form; pictures as data URLs, by their bytes', () => {
    const sid = Buffer.from('010500000000000515000000a065cf7e784b9b5fe77c8770e8030000', 'hex');
    expect(sidToString(sid)).toBe('S-1-5-21-2127521184-1604012920-1887927527-1000');
    expect(attrValues(entry('cn=z', { objectsid: [sid] }), 'objectSid').text).toEqual(['S-1-5-21-2127521184-1604012920-1887927527-1000']);
    expect(imageDataUrl(JPEG)).toEqual({ url: `data:image/jpeg;base64,${JPEG.toString('base64')}` });
    expect(imageDataUrl(PNG)).toEqual({ url: `data:image/png;base64,${PNG.toString('base64')}` });
    expect(imageDataUrl(Buffer.from('GIF89a\x01\x00\x01\x00'))).toMatchObject({ url: expect.stringMatching(/^data:image\/gif;base64,/) });
    expect(imageDataUrl(Buffer.from('not a picture'))).toEqual({ problem: 'is not a JPEG, PNG or GIF picture' });
    expect(imageDataUrl(BIG_JPEG)).toEqual({ problem: 'is 151 KiB, over the 100 KiB limit for a photo' });
  });
});

// ---------------------------------------------------------------------------------------
// Property: whatever the source holds, the runtime accepts what a sync produces

/** Values people and tools have put in directories, and garbage. */
const NASTY = [
  'jean..dupont@example.com', 'Dupont, Jean <jean@example.com>', 'jean@exämple.fr', 'jean@example', 'a@b.c', ' spaced@example.com ', 'x@-bad-.com', 'é@example.com',
  '\u202a+33 1 23 45 67 89\u202c', '+33 (0)1 23-45.67/89', 'n/a', '0601020304 poste 12', '', ' ', '\u0000', 'a\u0007b', '\ud800', 'ok\ud83d', 'Zoë', '王小明', 'O\'Brien',
  'L'.repeat(300), '1'.repeat(70), '\ufeff+33612345678', 'x\r\ny', 'Ǳ', '\u0085next line', '\u00ad', '<script>', 'a/b', '#1', '*21#',
];

describe('an import never produces what the runtime refuses (a property over garbage entries, real runtime)', () => {
  it.each([1, 2, 3])('seed %i: 120 entries of garbage, imported and stored as contacts', async (seed) => {
    const rand = prng(seed);
    const pick = () => NASTY[Math.floor(rand() * NASTY.length)]!;
    const value = (): (string | Buffer)[] => {
      const n = rand() < 0.2 ? 2 : 1;
      return Array.from({ length: n }, () => (rand() < 0.05 ? Buffer.from([0xc3, 0x28, Math.floor(rand() * 256)]) : pick()));
    };
    const entries: LdapEntry[] = Array.from({ length: 120 }, (_, i) =>
      entry(`cn=e${i},dc=x`, {
        objectguid: [Buffer.from(`guid-${seed}-${String(i).padStart(8, '0')}`).subarray(0, 16)],
        samaccountname: rand() < 0.8 ? [`u${i}`] : value(),
        givenname: value(),
        sn: value(),
        mail: value(),
        mobile: value(),
        telephonenumber: rand() < 0.7 ? [String(30000 + i)] : value(),
        description: value(),
      }),
    );
    const rt = await open(tempDir(), { startEngines: false });
    try {
      expect(rt.apply(changeSet(0, creates(quickstart())))).toMatchObject({ ok: true });
      const imp = { domain: 'acme/paris', name: 'ad', source: 'activeDirectory', mapping: { mobile: 'mobile', reserved0: 'description' } };
      expect(rt.apply(changeSet(rt.revision(), [{ action: 'create', kind: 'UserImport', id: 'acme/paris/ad', body: imp }]))).toMatchObject({ ok: true });
      const plan = planUserImport(importSettings(rt.get('UserImport', 'acme/paris/ad')!, undefined), sourceUsers(entries, resolveMapping('activeDirectory', imp.mapping)), rt.state({ company: 'acme' }).resources, {});
      expect(plan.changes.length).toBeGreaterThan(50);
      const applied = rt.apply(changeSet(rt.revision(), plan.changes, 'sync', 'import:ad'));
      expect(applied).toMatchObject({ ok: true });

      // The same garbage as directory rows: every contact body passes the Contact schema, and the runtime stores them.
      const fields = Object.fromEntries(CONTACT_FIELDS.filter((f) => f !== 'identifier').map((f, i) => [f, `c${i}`]));
      const body = { domain: 'acme/paris', name: 'G', serverType: 'CSV', fields: { identifier: 'id', ...fields } };
      const rows = Array.from({ length: 120 }, (_, i) => sourceRow(`line ${i + 2}`, { id: `r${i}`, ...Object.fromEntries(Object.values(fields).map((c) => [c, value().map(String)])) }));
      const { contacts } = contactsOf(body, rows);
      for (const c of contacts) expect(schemaRegistry().validate('Contact', contactBody('acme/paris', c)).problems).toEqual([]);
      expect(rt.apply(changeSet(rt.revision(), [{ action: 'create', kind: 'Directory', id: 'acme/paris/G', body: { ...body, connection: { path: 'g.csv' } } }]))).toMatchObject({ ok: true });
      const stored = planContacts('acme/paris', 'G', contacts, rt.state().resources);
      expect(rt.apply(changeSet(rt.revision(), stored.changes, 'sync', 'directory:G'))).toMatchObject({ ok: true });
    } finally {
      await rt.close();
    }
  });

  it('the e-mail rule is one: what the import keeps, the User schema accepts, and the reverse', () => {
    const registry = schemaRegistry();
    for (const mail of NASTY) {
      const [u] = sourceUsers([entry('cn=m', { objectguid: [Buffer.alloc(16, 7)], samaccountname: ['m'], mail: [mail] })], resolveMapping('activeDirectory', undefined));
      const schemaOk = registry.validate('User', { domain: 'acme/paris', username: 'm', email: mail.trim() }).problems.length === 0;
      expect({ mail, kept: u!.mail !== undefined }).toEqual({ mail, kept: mail.trim() !== '' && schemaOk });
    }
  });
});

export type { LiveResource };
