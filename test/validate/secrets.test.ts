// Secret fields (`x-secret` in the schemas): `${env:NAME}` and `${file:relative/path}` are
// resolved when the configuration is loaded (src/validate/validate.ts, src/config/secrets.ts);
// a literal is accepted with a warning. Messages never contain a secret value.
//
// Expected positions are counted by hand from the YAML below: `file:line:column code`.
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../src/diagnostics.js';
import { header, short, validateFiles, yaml } from '../helpers.js';
import { ACME_PARIS, pbxLinkWithPassword, overlay, type Files } from './base.js';


const link = pbxLinkWithPassword;

/** acme/paris, the link (password from CSTA_PASSWORD) and alice, whose device uses the link. */
const BASE: Record<string, string> = {
  'company.yaml': ACME_PARIS,
  'links.yaml': link('${env:CSTA_PASSWORD}'),
  'users.yaml':
    header('User') +
    yaml`
      domain: acme/paris
      items:
        - username: alice
          devices:
            - number: "1001"
              protocol: CSTA
              link: pbx
    `,
};

const ENV = { CSTA_PASSWORD: 'csta-Secret-42' };

function validate(over: Files = {}, env: Record<string, string> = ENV) {
  return validateFiles(overlay(BASE, over), env);
}

const list = (ds: readonly Diagnostic[]) => ds.map(short);

interface Case {
  rule: string;
  name: string;
  files: Files;
  env?: Record<string, string>;
  /** Every diagnostic of the run, as `file:line:col code`. */
  expect: string[];
  /** Substrings of the message of the first diagnostic whose code is `rule`. */
  message?: string[];
  /** Strings no diagnostic may contain (secret values). */
  hidden?: string[];
}

it('the base configuration is valid when CSTA_PASSWORD is set', () => {
  expect(list(validate().diagnostics)).toEqual([]);
});

const cases: Case[] = [
  // secret-literal (warning)
  {
    rule: 'secret-literal',
    name: 'an ${env:…} reference is not a literal',
    files: {},
    expect: [],
  },
  {
    rule: 'secret-literal',
    name: 'a literal password, at its value, without echoing it',
    files: { 'links.yaml': link('hunter2') },
    expect: ['links.yaml:8:11 secret-literal'],
    message: ["'password' holds a literal secret that will be committed with the configuration: use ${env:NAME} or ${file:relative/path}"],
    hidden: ['hunter2'],
  },
  {
    rule: 'secret-literal',
    name: 'a value that merely contains ${ is a literal',
    files: { 'links.yaml': link('pre${env:CSTA_PASSWORD}') },
    expect: ['links.yaml:8:11 secret-literal'],
    hidden: ['pre$'],
  },
  {
    rule: 'secret-literal',
    name: 'a literal in a list item: the message names the path inside the resource',
    files: { 'users.yaml': header('User') + yaml`
      domain: acme/paris
      items:
        - username: alice
          devices:
            - number: "1001"
              protocol: CSTA
              link: pbx
              password: "0000"
    ` },
    expect: ['users.yaml:10:19 secret-literal'],
    message: ["'devices.0.password' holds a literal secret"],
  },

  // secret-env-missing
  {
    rule: 'secret-env-missing',
    name: 'the variable is not set',
    files: {},
    env: {},
    expect: ['links.yaml:8:11 secret-env-missing'],
    message: ["environment variable CSTA_PASSWORD is not set (needed by 'password'): export it before running switchboard"],
  },
  {
    rule: 'secret-env-missing',
    name: 'the variable is set to the empty string: set, so resolved',
    files: {},
    env: { CSTA_PASSWORD: '' },
    expect: [],
  },
  {
    rule: 'secret-env-missing',
    name: 'every missing secret of a resource is reported, each at its value',
    files: { 'users.yaml': header('User') + yaml`
      domain: acme/paris
      username: alice
      password: \${env:ALICE_PASSWORD}
      voicemailPassword: \${env:ALICE_VOICEMAIL}
      devices:
        - number: "1001"
          protocol: CSTA
          link: pbx
    ` },
    expect: ['users.yaml:5:11 secret-env-missing', 'users.yaml:6:20 secret-env-missing'],
    message: ['environment variable ALICE_PASSWORD is not set'],
  },
  {
    rule: 'secret-env-missing',
    name: 'a secret parameter value ({secret: …}) is found through the schema alternatives',
    files: { 'parameters.yaml': header('ApplicationParameter') + yaml`
      company: acme
      application: TWS Server
      name: SmtpAuthPassword
      default:
        secret: \${env:SMTP_PASSWORD}
      overrides:
        - domain: paris
          value:
            secret: \${env:SMTP_PASSWORD_PARIS}
    ` },
    expect: ['parameters.yaml:7:11 secret-env-missing', 'parameters.yaml:11:15 secret-env-missing'],
    message: ["environment variable SMTP_PASSWORD is not set (needed by 'default.secret')"],
  },

  // secret-file-missing
  {
    rule: 'secret-file-missing',
    name: 'a file next to the YAML file',
    files: { 'links.yaml': link('${file:secrets/csta.txt}'), 'secrets/csta.txt': 'csta-Secret-42\n' },
    expect: [],
  },
  {
    rule: 'secret-file-missing',
    name: 'the file does not exist',
    files: { 'links.yaml': link('${file:secrets/csta.txt}') },
    expect: ['links.yaml:8:11 secret-file-missing'],
    message: ["secret file 'secrets/csta.txt' does not exist (resolved relative to this YAML file: ", "create it or fix the path (needed by 'password')"],
  },
  {
    rule: 'secret-file-missing',
    name: 'the path is relative to the directory of the YAML file: found in paris/secrets/',
    files: {
      'links.yaml': null,
      'paris/links.yaml': link('${file:secrets/csta.txt}'),
      'paris/secrets/csta.txt': 'csta-Secret-42\n',
    },
    expect: [],
  },
  {
    rule: 'secret-file-missing',
    name: 'the path is relative to the directory of the YAML file: not looked for in the working directory',
    files: {
      'links.yaml': null,
      'paris/links.yaml': link('${file:secrets/csta.txt}'),
      'secrets/csta.txt': 'csta-Secret-42\n',
    },
    expect: ['paris/links.yaml:8:11 secret-file-missing'],
  },
  {
    rule: 'secret-file-missing',
    name: '.. climbs from the directory of the YAML file',
    files: {
      'links.yaml': null,
      'paris/links.yaml': link('${file:../shared/csta.txt}'),
      'shared/csta.txt': 'csta-Secret-42',
    },
    expect: [],
  },

  // secret-reference
  {
    rule: 'secret-reference',
    name: 'a valid variable name with underscores and digits',
    files: { 'links.yaml': link('${env:_CSTA_PASSWORD_2}') },
    env: { _CSTA_PASSWORD_2: 'x' },
    expect: [],
  },
  {
    rule: 'secret-reference',
    name: 'an environment variable name starting with a digit',
    files: { 'links.yaml': link('${env:1CSTA}') },
    expect: ['links.yaml:8:11 secret-reference'],
    message: ["invalid secret reference in 'password': '1CSTA' is not a valid environment variable name"],
  },
  {
    rule: 'secret-reference',
    name: 'an unknown source',
    files: { 'links.yaml': link('${vault:csta}') },
    expect: ['links.yaml:8:11 secret-reference'],
    message: ["invalid secret reference in 'password': expected ${env:NAME} or ${file:relative/path}"],
  },
  {
    rule: 'secret-reference',
    name: 'a reference without its closing brace',
    files: { 'links.yaml': link('${env:CSTA_PASSWORD') },
    expect: ['links.yaml:8:11 secret-reference'],
    hidden: ['csta-Secret-42'],
  },
];

describe('secrets: a passing and a failing case for every secret rule id', () => {
  it.each(cases)('$rule: $name', ({ rule, files, env, expect: expected, message, hidden }) => {
    const ds = validate(files, env ?? ENV).diagnostics;
    expect(list(ds)).toEqual(expected);
    const hit = ds.find((d) => d.code === rule);
    if (expected.some((e) => e.endsWith(` ${rule}`))) {
      expect(hit).toBeDefined();
      for (const m of message ?? []) expect(hit!.message).toContain(m);
    } else {
      expect(hit).toBeUndefined();
    }
    for (const h of hidden ?? []) expect(JSON.stringify(ds)).not.toContain(h);
  });

  it('every secret rule id has a passing and a failing case', () => {
    for (const id of ['secret-literal', 'secret-env-missing', 'secret-file-missing', 'secret-reference']) {
      const mine = cases.filter((c) => c.rule === id);
      expect(mine.some((c) => c.expect.some((e) => e.endsWith(` ${id}`))), `${id}: failing case`).toBe(true);
      expect(mine.some((c) => !c.expect.some((e) => e.endsWith(` ${id}`))), `${id}: passing case`).toBe(true);
    }
  });
});

describe('severity and effect on the result', () => {
  it('a literal secret is a warning: the configuration stays valid', () => {
    const r = validate({ 'links.yaml': link('hunter2') });
    expect(r.diagnostics.map((d) => d.severity)).toEqual(['warning']);
    expect(r.ok).toBe(true);
  });

  it.each([
    ['secret-env-missing', {}, {}],
    ['secret-file-missing', { 'links.yaml': link('${file:nope.txt}') }, ENV],
    ['secret-reference', { 'links.yaml': link('${env:}') }, ENV],
  ] as const)('%s is an error: the configuration is invalid', (code, files, env) => {
    const r = validate(files, env);
    expect(r.diagnostics.map((d) => `${d.code} ${d.severity}`)).toEqual([`${code} error`]);
    expect(r.ok).toBe(false);
  });
});

describe('resolution', () => {
  it('puts the resolved value in the state (env, and file with its trailing newline trimmed)', () => {
    const fromEnv = validate();
    expect(fromEnv.state.byKind.get('PbxLink')!.get('acme/paris/pbx')!.body.password).toBe('csta-Secret-42');
    const fromFile = validate({ 'links.yaml': link('${file:secrets/csta.txt}'), 'secrets/csta.txt': 'from-file\n' });
    expect(fromFile.state.byKind.get('PbxLink')!.get('acme/paris/pbx')!.body.password).toBe('from-file');
  });

  it('keeps a resource whose secret is missing in the state: its references and rules still work', () => {
    const r = validate(
      {
        'users.yaml': header('User') + yaml`
          domain: acme/paris
          items:
            - username: alice
              devices:
                - number: "1001"
                  protocol: SIP
                  link: pbx
        `,
      },
      {},
    );
    // No unresolved-reference to pbx; its protocol is still compared with the device's.
    expect(list(r.diagnostics)).toEqual(['links.yaml:8:11 secret-env-missing', 'users.yaml:8:19 device-link-protocol']);
    expect(r.state.byKind.get('PbxLink')!.get('acme/paris/pbx')!.body.password).toBe('${env:CSTA_PASSWORD}');
  });

  it('records where the secrets of a resource are and resolves them', () => {
    const r = validateFiles({ ...BASE }, ENV);
    const pbx = r.state.byKind.get('PbxLink')!.get('acme/paris/pbx')!;
    expect(pbx.secrets).toEqual([['password']]);
    expect(pbx.body.password).toBe('csta-Secret-42');
  });

  it('never puts a resolved value in any diagnostic', () => {
    const secret = 'Zq9<&>"\'-very-secret';
    const r = validate(
      {
        'connectors.yaml': header('Connector') + yaml`
          company: acme
          name: exo
          subtype: ExchangeOnline
          parameters:
            authentication: basic
            username: svc@acme.example
            password: \${env:EXO_PASSWORD}
        `,
      },
      { ...ENV, EXO_PASSWORD: secret },
    );
    expect(list(r.diagnostics)).toEqual(['connectors.yaml:9:13 exchange-online-password']);
    expect(JSON.stringify(r.diagnostics)).not.toContain('very-secret');
  });
});
