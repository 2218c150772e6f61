import { connect, createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attrText, checkFilter, escapeDnValue, escapeFilterValue, guidToString, ldapSearchAll, LdapError, normalizeFilter } from '../../src/sync/ldap.js';
import { ADMIN_DN, ADMIN_PASSWORD, destroySlapd, hasSlapd, PEOPLE, person, startSlapd, type Slapd } from './slapd.js';

describe('LDAP escaping', () => {
  it.each([
    ['plain', 'plain'],
    ['a*b', 'a\\2ab'],
    ['(x)', '\\28x\\29'],
    ['back\\slash', 'back\\5cslash'],
    ['nul\0', 'nul\\00'],
    ['*)(uid=*', '\\2a\\29\\28uid=\\2a'],
  ])('filter value %j → %j (RFC 4515)', (input, expected) => {
    expect(escapeFilterValue(input)).toBe(expected);
  });

  it('an escaped value cannot open a new filter term', () => {
    const f = `(uid=${escapeFilterValue('x)(|(objectClass=*)')})`;
    expect(checkFilter(f).toString()).toBe(f);
  });

  it.each([
    ['Smith, John', 'Smith\\, John'],
    ['a+b', 'a\\+b'],
    ['#hash', '\\#hash'],
    [' lead', '\\ lead'],
    ['trail ', 'trail\\ '],
    ['q"<>;\\=', 'q\\"\\<\\>\\;\\\\\\='],
    ['mid # sp', 'mid # sp'],
  ])('DN value %j → %j (RFC 4514)', (input, expected) => {
    expect(escapeDnValue(input)).toBe(expected);
  });

  it('normalizes the manual filter form and refuses a typo', () => {
    expect(normalizeFilter('objectClass=user')).toBe('(objectClass=user)');
    expect(normalizeFilter(undefined)).toBe('(objectClass=*)');
    expect(() => checkFilter('(&(objectClass=person)(uid=x)')).toThrow(LdapError);
  });

  it('formats an objectGUID like Active Directory', () => {
    const b = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    expect(guidToString(b)).toBe('33221100-5544-7766-8899-aabbccddeeff');
  });
});

describe.skipIf(!hasSlapd())('LDAP client against slapd', () => {
  let slapd: Slapd;
  beforeAll(async () => {
    slapd = await startSlapd(Array.from({ length: 2500 }, (_, i) => person(i)));
  });
  afterAll(async () => destroySlapd(slapd));
  const conn = () => ({ host: slapd.host, port: slapd.port, login: ADMIN_DN, password: ADMIN_PASSWORD, timeoutMs: 5000 });

  it('pages over more than 1,000 entries', async () => {
    const entries = await ldapSearchAll(conn(), { baseDn: PEOPLE, filter: '(objectClass=inetOrgPerson)', attributes: ['uid', 'sn'], pageSize: 500 });
    expect(entries).toHaveLength(2500);
    expect(new Set(entries.map((e) => attrText(e, 'uid'))).size).toBe(2500);
  });

  it('anonymous read works with the manual filter form; escaping keeps an injected value literal', async () => {
    const one = await ldapSearchAll({ host: slapd.host, port: slapd.port }, { baseDn: PEOPLE, filter: `uid=${escapeFilterValue('user00007')}`, attributes: ['uid'] });
    expect(one.map((e) => attrText(e, 'uid'))).toEqual(['user00007']);
    const none = await ldapSearchAll(conn(), { baseDn: PEOPLE, filter: `(uid=${escapeFilterValue('*')})`, attributes: ['uid'] });
    expect(none).toHaveLength(0);
  });

  it('a size limit that the result exceeds throws instead of returning a truncated read', async () => {
    await expect(ldapSearchAll(conn(), { baseDn: PEOPLE, attributes: ['uid'], sizeLimit: 100, pageSize: 50 })).rejects.toMatchObject({ code: 'size-limit' });
  });

  it('wrong password → bind error; LDAPS and StartTLS work', async () => {
    await expect(ldapSearchAll({ ...conn(), password: 'wrong' }, { baseDn: PEOPLE, attributes: ['uid'] })).rejects.toMatchObject({ code: 'bind' });
    const tlsOptions = { rejectUnauthorized: false };
    const a = await ldapSearchAll({ ...conn(), tls: 'ldaps', port: slapd.ldapsPort, tlsOptions }, { baseDn: PEOPLE, filter: '(uid=user00001)', attributes: ['uid'] });
    expect(a).toHaveLength(1);
    const b = await ldapSearchAll({ ...conn(), tls: 'starttls', tlsOptions }, { baseDn: PEOPLE, filter: '(uid=user00001)', attributes: ['uid'] });
    expect(b).toHaveLength(1);
  });

  it('pages of 1,000 entries by default (Active Directory\'s maximum): 2,500 entries take 3 search requests', async () => {
    // A loopback proxy that counts the SearchRequests ([APPLICATION 3]) the client sends.
    let searches = 0;
    const proxy = createServer((client) => {
      const upstream = connect(slapd.port, slapd.host);
      client.on('data', (d) => {
        for (let i = 0; i < d.length; ) {
          // LDAPMessage: 30 <len> 02 <idlen> <id> <op tag> …
          const lenByte = d[i + 1]!;
          const lenLen = lenByte & 0x80 ? (lenByte & 0x7f) + 1 : 1;
          const total = lenByte & 0x80 ? d.readUIntBE(i + 2, lenByte & 0x7f) : lenByte;
          const body = i + 1 + lenLen;
          const op = d[body + 2 + d[body + 1]!];
          if (op === 0x63) searches++;
          i = body + total;
        }
        upstream.write(d);
      });
      upstream.on('data', (d) => client.write(d));
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const entries = await ldapSearchAll({ ...conn(), port: (proxy.address() as AddressInfo).port }, { baseDn: PEOPLE, filter: '(objectClass=inetOrgPerson)', attributes: ['uid'], pageSize: 0 });
      expect(entries).toHaveLength(2500);
      expect(searches).toBe(3);
    } finally {
      proxy.close();
    }
  });

  it('a filter that does not parse is refused before any connection', async () => {
    // Port 1: nothing listens; a connection attempt would fail as `connect`.
    await expect(ldapSearchAll({ host: '127.0.0.1', port: 1, timeoutMs: 2000 }, { baseDn: PEOPLE, filter: '(&(uid=x)', attributes: ['uid'] })).rejects.toMatchObject({ code: 'filter' });
  });

  it('a server that is not there → connect error within the timeout', async () => {
    const t0 = Date.now();
    await expect(ldapSearchAll({ host: '127.0.0.1', port: 1, timeoutMs: 2000 }, { baseDn: PEOPLE, attributes: ['uid'] })).rejects.toBeInstanceOf(LdapError);
    expect(Date.now() - t0).toBeLessThan(3000);
  });
});
