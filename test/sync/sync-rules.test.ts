/**
 * Sync sources checked at `validate` (src/validate/sync-rules.ts), at the YAML node's
 * file:line:col: LDAP filters (ldapts' parser, bounded), directory field expressions and their
 * `p:` regular expressions, LDAP attribute names — and the same checks in the runtime, which
 * refuses such a change set before any synchronization runs.
 */
import { describe, expect, it } from 'vitest';
import { ldapFilterProblem, LDAP_FILTER_MAX_DEPTH } from '../../src/model/ldap-filter.js';
import { header, short, validateFiles, yaml } from '../helpers.js';
import { changeSet, creates, open, quickstart, tempDir } from '../runtime/helpers.js';

const COMPANY = header('Company') + yaml`
  name: acme
  ---
  apiVersion: switchboard/v1
  kind: Domain
  company: acme
  name: paris
`;

// Line by line, so positions can be counted: the value of `filter:` is at line 9, column 11.
const importWith = (filter: string, mapping = 'identifier: objectGUID') =>
  [
    'apiVersion: switchboard/v1',
    'kind: UserImport',
    'domain: acme/paris',
    'name: ad',
    'source: activeDirectory',
    'connection:',
    '  host: dc1.example.com',
    '  baseDn: dc=example,dc=com',
    `  filter: '${filter}'`,
    'mapping:',
    `  ${mapping}`,
    '',
  ].join('\n');

// The filter is at line 10, column 11; fields from line 12 on, their values at column 3 + key + 2.
const directoryWith = (fields: readonly string[], serverType = 'LDAP', filter = '(objectClass=person)') =>
  [
    'apiVersion: switchboard/v1',
    'kind: Directory',
    'domain: acme/paris',
    'name: corp',
    `serverType: ${serverType}`,
    'connection:',
    '  host: ldap.example.com',
    '  baseDn: dc=example,dc=com',
    '  pageSize: 500',
    `  filter: '${filter}'`,
    'fields:',
    ...fields.map((f) => `  ${f}`),
    '',
  ].join('\n');

const check = (files: Record<string, string>) => validateFiles({ 'company.yaml': COMPANY, ...files });

describe('LDAP filters are checked at validate, at the filter', () => {
  it.each([
    ['(&(objectClass=user)(telephoneNumber=*))'],
    ['objectClass=user'],
    ['(|(sn=Dupont)(sn=Durand))'],
    ['(cn=a\\28b\\29)'],
  ])('%s is valid', (filter) => {
    const r = check({ 'imports.yaml': importWith(filter) });
    expect(r.diagnostics.map(short)).toEqual([]);
  });

  it.each([
    ['(&(objectClass=user)(telephoneNumber=*)', /unbalanced parentheses: 1 '\(' never closed/],
    ['(objectClass=user))', /a '\)' at character 19 closes nothing/],
    ['(objectClass=user)(sn=x)', /text after the end of the filter/],
    ['(cn=a(b)', /never closed \(a parenthesis inside a value is written \\28 or \\29\)/],
    ['(cn=a\\zz)', /Invalid escaped hex character/],
    ['(=x)', /Invalid attribute name/],
    ['(!(a=1)(b=2))', /not valid/],
  ])('%s is refused at imports.yaml:9:11', (filter, reason) => {
    const r = check({ 'imports.yaml': importWith(filter) });
    expect(r.diagnostics.map(short)).toEqual(['imports.yaml:9:11 ldap-filter-invalid']);
    expect(r.diagnostics[0]!.message).toMatch(reason);
    expect(r.diagnostics[0]!.message).toMatch(/Write an RFC 4515 filter/);
  });

  it('an LDAP directory filter too; a CSV directory has none to check', () => {
    const r = check({ 'directories.yaml': directoryWith(['lastName: sn'], 'LDAP', '(objectClass=person') });
    expect(r.diagnostics.map(short)).toEqual(['directories.yaml:10:11 ldap-filter-invalid']);
  });

  it('is bounded: too deep or too long is refused without running the recursive parser', () => {
    const deep = '(&'.repeat(LDAP_FILTER_MAX_DEPTH + 1) + '(cn=a)' + ')'.repeat(LDAP_FILTER_MAX_DEPTH + 1);
    expect(ldapFilterProblem(deep)).toMatch(/nests deeper than 64 levels/);
    const hostile = '(&'.repeat(100_000) + '(cn=a)' + ')'.repeat(100_000);
    expect(ldapFilterProblem(hostile)).toMatch(/longer than 16384 characters/);
    const wide = `(|${Array.from({ length: 1000 }, (_, i) => `(uid=u${i})`).join('')})`;
    expect(ldapFilterProblem(wide)).toBeUndefined();
  });
});

describe('field expressions and their p: regular expressions are checked at validate, at the field', () => {
  it('valid expressions pass', () => {
    const r = check({ 'directories.yaml': directoryWith(['lastName: sn|u', "businessPhone: 'telephoneNumber|p:9{0}::^[0-9]{4}$'", 'identifier: objectGUID|h']) });
    expect(r.diagnostics.map(short)).toEqual([]);
  });

  it('a p: regular expression that does not compile: its message, not the raw JavaScript text', () => {
    const r = check({ 'directories.yaml': directoryWith(["businessPhone: 'telephoneNumber|p:9{0}::^[0-9{4}$'"]) });
    expect(r.diagnostics.map(short)).toEqual(['directories.yaml:12:18 field-expression-regex']);
    expect(r.diagnostics[0]!.message).toBe("the p: regular expression \"^[0-9{4}$\" of fields.businessPhone is not valid: a '[' is never closed: add the ']', or write \\[ for a literal bracket. Fix it (e.g. ^[0-9]{4}$), or drop ::REGEX to rewrite every value");
  });

  it('a p: regular expression outside the supported subset is refused the way a run would refuse it', () => {
    const r = check({ 'directories.yaml': directoryWith(["businessPhone: 'telephoneNumber|p:9{0}::(?i)^[0-9]{4}$'"]) });
    expect(r.diagnostics.map(short)).toEqual(['directories.yaml:12:18 field-expression-regex']);
    expect(r.diagnostics[0]!.message).toContain('inline options such as "(?i)"');
  });

  it('a CSV directory is checked the same way (its sources are column names, not attributes)', () => {
    const r = check({ 'directories.yaml': directoryWith(["lastName: 'Last Name|u,p:{0}::(x'"], 'CSV') });
    expect(r.diagnostics.map(short)).toEqual(['directories.yaml:12:13 field-expression-regex']);
  });

  it('an unknown option is refused by the schema pattern; a blank source and an overlong expression by the rule', () => {
    expect(check({ 'directories.yaml': directoryWith(["lastName: 'sn|u,x'"]) }).diagnostics.map(short)).toEqual(['directories.yaml:12:13 invalid-format']);
    const blank = check({ 'directories.yaml': directoryWith(["lastName: '  |u'"]) });
    expect(blank.diagnostics.map(short)).toEqual(['directories.yaml:12:13 field-expression-invalid']);
    expect(blank.diagnostics[0]!.message).toMatch(/fields.lastName: no source field before \|/);
    const long = check({ 'directories.yaml': directoryWith([`lastName: 'sn|p:${'x'.repeat(1100)}'`]) });
    expect(long.diagnostics.map(short)).toEqual(['directories.yaml:12:13 field-expression-invalid']);
    expect(long.diagnostics[0]!.message).toMatch(/longer than 1024 characters/);
  });

  it('an LDAP field source or red-list field that is not an attribute name', () => {
    const r = check({ 'directories.yaml': directoryWith(["firstName: 'given name|m'"]) + 'redList:\n  businessPhone: liste rouge\n' });
    expect(r.diagnostics.map(short)).toEqual(['directories.yaml:12:14 ldap-attribute-invalid', 'directories.yaml:14:18 ldap-attribute-invalid']);
    expect(r.diagnostics[0]!.message).toMatch(/the source attribute of fields.firstName "given name" is not an LDAP attribute name/);
  });

  it('an import mapping attribute that is not an LDAP attribute name', () => {
    const r = check({ 'imports.yaml': importWith('(objectClass=user)', "mail: 'e-mail address'") });
    expect(r.diagnostics.map(short)).toEqual(['imports.yaml:11:9 ldap-attribute-invalid']);
  });
});

describe('the runtime refuses the same mistakes in a change set', () => {
  it('a UserImport with a broken filter is refused before any synchronization', async () => {
    const rt = await open(tempDir(), { startEngines: false });
    try {
      expect(rt.apply(changeSet(0, creates(quickstart())))).toMatchObject({ ok: true });
      const body = { domain: 'acme/paris', name: 'ad', source: 'ldap', connection: { host: 'dc1', baseDn: 'dc=x', filter: '(&(objectClass=user)' } };
      const r = rt.apply(changeSet(rt.revision(), [{ action: 'create', kind: 'UserImport', id: 'acme/paris/ad', body }]));
      expect(r.ok).toBe(false);
      expect(JSON.stringify(r)).toMatch(/ldap-filter-invalid/);
    } finally {
      await rt.close();
    }
  });
});
