/**
 * Directory synchronization, the pure part and its readers: field expressions (every option),
 * red list, [VIP], stable identifiers, merge by e-mail, priority; a real CSV file on disk; a
 * real slapd; lookup of contacts through the dial plan.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileDialPlan, isCompiled, resolveDialPlan } from '../../src/dialplan/index.js';
import { parseCsvBytes } from '../../src/sync/csv.js';
import { applyOptions, contactsOf, FieldExpressionError, isRedListed, mergeContacts, parseFieldExpression, readCsvDirectory, readLdapDirectory, sourceRow } from '../../src/sync/directory.js';
import { lookupContacts } from '../../src/sync/lookup.js';
import { tempDir } from '../runtime/helpers.js';
import { ADMIN_DN, ADMIN_PASSWORD, destroySlapd, hasSlapd, PEOPLE, person, startSlapd, type Slapd } from './slapd.js';

const opt = (expr: string, value: string | undefined) => applyOptions(value, parseFieldExpression(expr).options);

describe('field expressions', () => {
  it.each([
    ['sn', 'Dupont', 'Dupont'],
    ['sn|u', 'Dupont', 'DUPONT'],
    ['sn|l', 'Dupont', 'dupont'],
    ['sn|m', 'dUPONT', 'Dupont'],
    ['tel|p:9{0}::^[0-9]{4}$', '1234', '91234'],
    ['tel|p:9{0}::^[0-9]{4}$', '12345', '12345'],
    ['tel|p:+33 {0}', '123', '+33 123'],
    ['tel|p:({0}), ext::^[0-9]+$', '42', '(42), ext'],
    ['Surname|u,p:9{0}::^[0-9]{4}$', '1234', '91234'],
  ])('%s on %j → %j', (expr, value, expected) => {
    expect(opt(expr, value)).toBe(expected);
  });

  it('h hashes (stable, after the other options); a, i are flags; empty stays empty', () => {
    const h = opt('ItemId.Id|h', 'AAMkAGI2TG93AAA=')!;
    expect(h).toMatch(/^[0-9a-f]{32}$/);
    expect(opt('ItemId.Id|h', 'AAMkAGI2TG93AAA=')).toBe(h);
    expect(opt('Surname|h,u,p:9{0}::^[0-9]{4}$', '1234')).toBe(opt('x|h', '91234'));
    expect(parseFieldExpression('street|a,i').options).toMatchObject({ address: true, invisible: true, hash: false });
    expect(opt('sn|u', '')).toBeUndefined();
  });

  it('refuses unknown options and bad regular expressions, saying why', () => {
    expect(() => parseFieldExpression('sn|x')).toThrow(/unknown option 'x'/);
    expect(() => parseFieldExpression('sn|p:{0}::[')).toThrow(FieldExpressionError);
    expect(() => parseFieldExpression('|u')).toThrow(/no source field/);
  });

  it.each(['1', 'true', 'YES', 'y', 'lr', 'RF', ' yes '])('red-list value %j hides', (v) => expect(isRedListed(v)).toBe(true));
  it.each(['0', 'no', '', 'false', undefined])('red-list value %j does not hide', (v) => expect(isRedListed(v)).toBe(false));
});

const csvDirectory = {
  domain: 'acme/paris',
  name: 'Suppliers',
  serverType: 'CSV',
  priority: 2,
  mergeContacts: true,
  connection: { path: 'suppliers.csv', delimiter: ';', encoding: 'latin1' },
  fields: {
    identifier: 'Id|h',
    lastName: 'Nom|u',
    firstName: 'Prenom|m',
    company: 'Societe|l',
    businessPhone: 'Tel|p:9{0}::^[0-9]{4}$',
    mobilePhone: 'Portable|i',
    homePhone: 'Perso',
    email1: 'Mail|l',
    private0: 'Adresse|a',
    private1: 'Vip',
  },
  redList: { mobilePhone: 'ListeRouge', homePhone: 'ListeRouge' },
  privateLabels: { private1: '[VIP]' },
};

describe('CSV directory (a real latin-1 file on disk)', () => {
  const dir = tempDir();
  writeFileSync(
    path.join(dir, 'suppliers.csv'),
    Buffer.from(
      [
        'Id;Nom;Prenom;Societe;Tel;Portable;Perso;Mail;Adresse;Vip;ListeRouge',
        'S1;Müller;éLODIE;ACME Fournitures;4321;+33 6 11 22 33 44;01 45 00 00 01;Elodie.Muller@Example.com;"12 rue de la Paix; Paris";;oui',
        'S2;Durand;jean;"Durand ""et fils""";+33 1 23 45 67 89;06 99 88 77 66;;jean@durand.fr;;gold;lr',
        ';;;;;;;;;;',
        'S1;Dup;Dup;;;;;;;;',
      ].join('\r\n') + '\r\n',
      'latin1',
    ),
  );
  const { rows } = readCsvDirectory(csvDirectory, dir);
  const { contacts, skipped, duplicates } = contactsOf(csvDirectory, rows);

  it('reads quoted fields, escaped quotes, the delimiter in quotes and latin-1', () => {
    expect(rows).toHaveLength(4);
    expect(rows[0]!.values.get('Nom')).toEqual(['Müller']);
    expect(rows[0]!.values.get('Adresse')).toEqual(['12 rue de la Paix; Paris']);
    expect(rows[1]!.values.get('Societe')).toEqual(['Durand "et fils"']);
    expect(rows.map((r) => r.where)).toEqual(['suppliers.csv line 2', 'suppliers.csv line 3', 'suppliers.csv line 4', 'suppliers.csv line 5']);
    const plain = parseCsvBytes(Buffer.from('a,b\n1,2'), { name: 'x.csv', delimiter: ',', encoding: 'utf-8', columns: [{ name: 'a', by: 'fields.lastName' }, { name: 'b', by: 'fields.firstName' }] });
    expect(plain.rows).toEqual([{ where: 'x.csv line 2', values: new Map([['a', ['1']], ['b', ['2']]]) }]);
  });

  it('maps every field option, red list and [VIP]; skips empty rows and duplicate identifiers', () => {
    expect(skipped).toBe(1);
    expect(duplicates).toBe(1);
    const [elodie, jean] = contacts;
    expect(elodie!.identifier).toMatch(/^[0-9a-f]{32}$/);
    expect(elodie!.fields).toEqual({
      lastName: 'MÜLLER',
      firstName: 'Élodie',
      company: 'acme fournitures',
      businessPhone: '94321',
      mobilePhone: '+33 6 11 22 33 44',
      homePhone: '01 45 00 00 01',
      email1: 'elodie.muller@example.com',
      private0: '12 rue de la Paix; Paris',
    });
    expect(elodie).toMatchObject({ invisible: ['mobilePhone'], address: ['private0'], hidden: [], vip: false, priority: 2 });
    expect(jean).toMatchObject({ hidden: ['mobilePhone'], vip: true });
    expect(jean!.fields.businessPhone).toBe('+33 1 23 45 67 89');
  });

  it('identifiers are stable across re-syncs', () => {
    expect(contactsOf(csvDirectory, readCsvDirectory(csvDirectory, dir).rows).contacts.map((c) => c.identifier)).toEqual(contacts.map((c) => c.identifier));
    const noId = { ...csvDirectory, fields: { ...csvDirectory.fields, identifier: undefined } };
    delete (noId.fields as Record<string, unknown>).identifier;
    const a = contactsOf(noId, rows).contacts.map((c) => c.identifier);
    expect(contactsOf(noId, readCsvDirectory(csvDirectory, dir).rows).contacts.map((c) => c.identifier)).toEqual(a);
  });

  it('merges contacts sharing an e-mail across merge-flagged directories, the lowest priority winning; lookup honours red list and priority', () => {
    const ldapLike = contactsOf({ domain: 'acme/paris', name: 'Corp', priority: 1, mergeContacts: true, fields: { identifier: 'uid', lastName: 'sn', email1: 'mail', homePhone: 'home', switchboardPhone: 'sw' } }, [
      sourceRow('e1', { uid: 'e1', sn: 'Muller-Corp', mail: 'ELODIE.MULLER@example.com', home: '01 45 00 00 02' }),
      sourceRow('j1', { uid: 'j1', sn: 'Jean Corp', mail: 'jean@durand.fr', sw: '+33 1 23 45 67 89' }),
    ]).contacts;
    const noMerge = contactsOf({ ...csvDirectory, name: 'Other', priority: 5, mergeContacts: false }, rows).contacts;
    const merged = mergeContacts([
      { merge: true, contacts },
      { merge: true, contacts: ldapLike },
      { merge: false, contacts: noMerge },
    ]);
    expect(merged).toHaveLength(4);
    const elodie = merged.find((c) => c.fields.email1?.toLowerCase() === 'elodie.muller@example.com' && c.sources.length === 2)!;
    expect(elodie.sources).toEqual(['acme/paris/Corp', 'acme/paris/Suppliers']);
    expect(elodie.fields).toMatchObject({ lastName: 'Muller-Corp', firstName: 'Élodie', homePhone: '01 45 00 00 02', businessPhone: '94321' });
    expect(elodie.invisible).toEqual(['mobilePhone']);

    const compiled = compileDialPlan(resolveDialPlan({ internalLength: 4, countryCode: '33', externalPrefix: '0', internationalPrefix: '00', inverseLength: 9 }));
    if (!isCompiled(compiled)) throw new Error('dial plan');
    // Jean's mobile is red-listed: found, number never shown.
    const red = lookupContacts(compiled, merged, '0699887766');
    expect(red.map((m) => [m.directory, m.redListed, m.number])).toEqual([
      ['acme/paris/Corp', true, undefined],
      ['acme/paris/Other', true, undefined],
    ]);
    // The same business number in two directories: the lowest priority first.
    const both = lookupContacts(compiled, merged, '+33 1 23 45 67 89');
    expect(both[0]).toMatchObject({ directory: 'acme/paris/Corp', vip: true, number: '+33 1 23 45 67 89' });
  });
});

describe.skipIf(!hasSlapd())('LDAP directory against slapd', () => {
  let slapd: Slapd;
  beforeAll(async () => {
    slapd = await startSlapd(Array.from({ length: 1200 }, (_, i) => person(i, i === 3 ? { extra: { title: 'rf' } } : {})));
  });
  afterAll(async () => destroySlapd(slapd));

  it('reads every mapped attribute over pages and builds contacts with red list', async () => {
    const body = {
      domain: 'acme/paris',
      name: 'Annuaire LDAP',
      serverType: 'LDAP',
      priority: 1,
      connection: { host: slapd.host, port: slapd.port, user: ADMIN_DN, baseDn: PEOPLE, filter: 'objectClass=inetOrgPerson', pageSize: 500 },
      fields: { identifier: 'objectGUID', lastName: 'sn|u', firstName: 'givenName', businessPhone: 'telephoneNumber|p:0{0}::^2', email1: 'mail' },
      redList: { businessPhone: 'title' },
    };
    const { rows } = await readLdapDirectory(body, ADMIN_PASSWORD);
    expect(rows).toHaveLength(1200);
    const { contacts } = contactsOf(body, rows);
    expect(contacts).toHaveLength(1200);
    const c3 = contacts.find((c) => c.fields.lastName === 'LAST00003')!;
    expect(c3).toMatchObject({ fields: { businessPhone: '020003', email1: 'user00003@example.com' }, hidden: ['businessPhone'] });
    expect(c3.identifier).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
  });
});
