/**
 * README.md, the sections test/docs-promises/readme.test.ts leaves out: Concepts, `serve`,
 * `token create`, `dialplan test`, `sync run`, the status of a serving runtime, Editor
 * completion, Examples, Development and Choices. The README's command examples run literally
 * where they can (the compiled CLI in a temp working directory; `serve` on a free port instead
 * of 7480, so parallel test files cannot collide); what other tests already prove is named in
 * the closing note of issue 12 rather than repeated here.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { open } from '../runtime/helpers.js';
import iconv from 'iconv-lite';
import { ADMIN_DN, ADMIN_PASSWORD as LDAP_PASSWORD, destroySlapd, hasSlapd, PEOPLE, person, startSlapd, type Slapd } from '../sync/slapd.js';
import { doc, QUICK_ENV, quickstartWorkDir, sb, sbAsync, tempWorkDir, type Ran } from './helpers.js';

const README = readFileSync('README.md', 'utf8');

/** The README's text from the heading line `heading` to the next heading of its level or above. */
function readmeSection(heading: string): string {
  const lines = README.split('\n');
  const start = lines.findIndex((l) => l === heading);
  expect(start, heading).toBeGreaterThanOrEqual(0);
  const level = heading.indexOf(' ');
  let fenced = false;
  let end = start + 1;
  for (; end < lines.length; end++) {
    if (lines[end]!.startsWith('```')) fenced = !fenced;
    else if (!fenced && /^#+ /.test(lines[end]!) && lines[end]!.indexOf(' ') <= level) break;
  }
  return lines.slice(start + 1, end).join('\n');
}

/** The bodies of the fenced blocks of a section, in order. */
const blocks = (text: string): string[] => [...text.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((m) => m[1]!);

/** A README sample line with "…" elisions, as a regular expression over a printed line. */
const elided = (sample: string) => new RegExp('^' + sample.split('…').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');

/** Every file under `dir`, as bytes. */
function filesUnder(dir: string): Buffer[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => readFileSync(path.join(e.parentPath, e.name)));
}

const children = new Set<ChildProcess>();
afterEach(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
});

/** `switchboard serve` (compiled) in `cwd`; resolves once it logs "serving", with its URL. */
async function serve(cwd: string, args: string[]): Promise<{ child: ChildProcess; url: string; log: () => string }> {
  const child = spawn(process.execPath, [path.resolve('bin/switchboard.js'), 'serve', ...args], { cwd, env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const m = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"serving"/.exec(out);
    if (m) return { child, url: m[1]!, log: () => out };
    if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${out}`);
    if (Date.now() > deadline) throw new Error(`serve did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

describe('README — Concepts', () => {
  it('"Document": any directory tree of *.yaml or *.yml files; dotfiles, .switchboard/ and node_modules/ are not read (compiled CLI)', () => {
    const dir = tempWorkDir();
    mkdirSync(path.join(dir, 'config/paris/users'), { recursive: true });
    mkdirSync(path.join(dir, 'config/node_modules'));
    mkdirSync(path.join(dir, 'config/.switchboard'));
    writeFileSync(path.join(dir, 'config/company.yaml'), `${doc('Company')}name: acme\n`);
    writeFileSync(path.join(dir, 'config/paris/domain.yml'), `${doc('Domain')}company: acme\nname: paris\n`);
    writeFileSync(path.join(dir, 'config/paris/users/all.yaml'), `${doc('User')}domain: acme/paris\nitems:\n  - username: a\n  - username: b\n`);
    for (const ignored of ['config/.hidden.yaml', 'config/node_modules/x.yaml', 'config/.switchboard/x.yaml', 'config/notes.txt']) writeFileSync(path.join(dir, ignored), 'not: [valid');
    const r = sb(['validate', 'config'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('valid: 3 files, 4 resources, 0 errors, 0 warnings\n');
  });

  it('"Secrets: no command prints them; plans hold fingerprints and references, never values": every command of the README on the quickstart', () => {
    const cwd = quickstartWorkDir();
    const secrets = Object.values(QUICK_ENV);
    const env = QUICK_ENV;
    const runs: Ran[] = [
      sb(['validate', 'config'], { cwd, env }),
      sb(['validate', 'config', '--format', 'json'], { cwd, env }),
      sb(['plan', 'config', '--out', 'plan.json', '--format', 'markdown'], { cwd, env }),
      sb(['plan', 'config', '--format', 'json'], { cwd, env }),
      sb(['apply', 'plan.json'], { cwd, env }),
      sb(['plan', 'config'], { cwd, env }),
      sb(['history', '--limit', '3'], { cwd, env }),
      sb(['history', '--format', 'json'], { cwd, env }),
      sb(['export', '--company', 'acme', '--out', 'exported/'], { cwd, env }),
      sb(['status'], { cwd, env }),
      sb(['status', '--format', 'json'], { cwd, env }),
      sb(['status', 'links'], { cwd, env }),
      sb(['status', 'extensions', '--format', 'json'], { cwd, env }),
      sb(['dialplan', 'test', 'config', '--domain', 'acme/paris', '1001', '+33 1 23 45 67 89'], { cwd, env }),
      sb(['lookup', '1001', '--domain', 'acme/paris'], { cwd, env }),
    ];
    expect(runs.map((r) => r.status)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const printed = runs.map((r) => r.stdout + r.stderr).join('\n');
    const written = [readFileSync(path.join(cwd, 'plan.json')), ...filesUnder(path.join(cwd, 'exported'))].map(String).join('\n');
    for (const secret of secrets) {
      expect(printed).not.toContain(secret);
      expect(written).not.toContain(secret);
    }
    // the saved plan holds the reference and a fingerprint of the value
    const plan = readFileSync(path.join(cwd, 'plan.json'), 'utf8');
    expect(plan).toMatch(/"password": \{\s+"\$secret": "hmac-sha256:[\w-]{43}",\s+"ref": "\$\{env:CSTA_PASSWORD\}"\s+\}/);
    // and the runtime stores them encrypted: no file of the embedded runtime holds a value
    for (const bytes of filesUnder(path.join(cwd, '.switchboard'))) for (const secret of secrets) expect(bytes.includes(secret)).toBe(false);
  });
});

describe('README — switchboard serve and token create (compiled CLI)', () => {
  it('the README example: serve a data directory, then plan with SWITCHBOARD_RUNTIME and SWITCHBOARD_TOKEN=$(cat DIR/admin.token); the endpoints it lists; status links and status extensions print the README\'s columns, status licences its example', async () => {
    const cwd = quickstartWorkDir();
    const dataDir = path.join(cwd, 'var/lib/switchboard');
    // README: npx switchboard serve --data-dir /var/lib/switchboard &  (here on a free port)
    const served = await serve(cwd, ['--data-dir', dataDir, '--listen', '127.0.0.1:0']);
    expect(statSync(path.join(dataDir, 'admin.token')).mode & 0o777).toBe(0o600);
    const token = readFileSync(path.join(dataDir, 'admin.token'), 'utf8').trim();
    const env = { ...QUICK_ENV, SWITCHBOARD_RUNTIME: served.url, SWITCHBOARD_TOKEN: token };
    // README: SWITCHBOARD_RUNTIME=http://127.0.0.1:7480 SWITCHBOARD_TOKEN=$(cat …/admin.token) npx switchboard plan config
    const plan = await sbAsync(['plan', 'config'], { cwd, env });
    expect(plan.stderr).toBe('');
    expect(plan.status).toBe(0);
    expect(plan.stdout).toContain(`Plan of config against ${served.url} at revision 0`);
    expect(plan.stdout).toMatch(/Plan: \d+ to create, 0 to update, 0 to replace, 0 to delete\./);
    // --runtime URL does the same as SWITCHBOARD_RUNTIME
    const apply = await sbAsync(['apply', 'config', '--auto-approve', '--runtime', served.url], { cwd, env: { ...QUICK_ENV, SWITCHBOARD_TOKEN: token } });
    expect(apply.status, apply.stderr).toBe(0);
    expect((await sbAsync(['plan', 'config', '--detailed-exitcode'], { cwd, env })).status).toBe(0);

    // "JSON API under /v1, its OpenAPI document at /openapi.json, server-sent events, /healthz, /readyz, /metrics"
    const get = (p: string, headers: Record<string, string> = { authorization: `Bearer ${token}` }) => fetch(served.url + p, { headers });
    expect((await get('/healthz', {})).status).toBe(200);
    expect((await get('/readyz', {})).status).toBe(200);
    expect((await get('/v1/state')).status).toBe(200);
    expect((await get('/v1/state', {})).status).toBe(401);
    expect(((await (await get('/openapi.json')).json()) as { openapi: string }).openapi).toMatch(/^3\./);
    expect(await (await get('/metrics')).text()).toContain('switchboard_http_requests_total');
    const events = await get('/v1/events');
    expect(events.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await events.body?.cancel();

    // status links / status extensions: the README's header lines
    const links = await sbAsync(['status', 'links'], { cwd, env });
    const [linksHeader] = blocks(readmeSection('### `switchboard status links [--runtime URL] [--data-dir DIR] [--format text|json]`'))[0]!.split('\n').slice(1);
    expect(links.stdout.split('\n')[0]!.split(/\s+/)).toEqual(linksHeader!.split(/\s+/));
    expect(links.stdout).toMatch(/acme\/paris\/pbx\s+csta\s+192\.0\.2\.10\s+3211\s+-\s+no\s+0\s+100\s+/); // the README's address is no switch here
    const extensions = await sbAsync(['status', 'extensions', '--from', '1000', '--to', '8000'], { cwd, env });
    const [extensionsHeader] = blocks(readmeSection('### `switchboard status extensions [--from N] [--to N] [--link ID] [--limit N] [--runtime URL] [--format text|json]`'))[0]!.split('\n').slice(1);
    expect(extensions.stdout.split('\n')[0]!.split(/\s{2,}/)).toEqual(extensionsHeader!.split(/\s{2,}/));
    expect(extensions.stdout.split('\n').filter((l) => /^100\d/.test(l))).toHaveLength(5);
    // status licences: the README's example, literally, from the serving runtime and the embedded one on its data directory
    const licencesExample = blocks(readmeSection('### `switchboard status licences [--company NAME] [--runtime URL] [--data-dir DIR] [--format text|json]`'))[0]!.split('\n');
    expect(licencesExample[0]).toBe('$ npx switchboard status licences');
    const licences = await sbAsync(['status', 'licences'], { cwd, env });
    expect(licences.stderr).toBe('');
    expect(licences.stdout.trimEnd()).toBe(licencesExample.slice(1).join('\n').trimEnd());
    const embedded = await sbAsync(['status', 'licences', '--data-dir', dataDir], { cwd, env: QUICK_ENV });
    expect(embedded.stdout.trimEnd()).toBe(licencesExample.slice(1).join('\n').trimEnd());
    expect(await stop(served.child)).toBe(0);
  });

  it('token create USERNAME: a bearer token for an AdminAccount, printed once, stored hashed; a company admin reads and changes only their companies', async () => {
    const cwd = quickstartWorkDir();
    const dataDir = path.join(cwd, 'data');
    expect(sb(['apply', 'config', '--auto-approve'], { cwd, env: { ...QUICK_ENV } }).status).toBe(0); // the embedded runtime
    cpSync(path.join(cwd, '.switchboard'), dataDir, { recursive: true });
    const made = sb(['token', 'create', 'acme-admin', '--data-dir', dataDir], { cwd });
    expect(made.status, made.stderr).toBe(0);
    const token = made.stdout.trim();
    expect(made.stdout).toBe(`${token}\n`); // the token alone on stdout
    expect(made.stderr).toMatch(/shown only this once/);
    const again = sb(['token', 'create', 'acme-admin', '--data-dir', dataDir], { cwd }).stdout.trim();
    expect(again).not.toBe(token); // never shown again: a new one each time
    for (const bytes of filesUnder(dataDir)) expect(bytes.includes(token)).toBe(false); // stored hashed
    expect(sb(['token', 'create', 'nobody', '--data-dir', dataDir], { cwd }).status).toBe(1);

    // another company, applied by the super admin, beside acme
    const served = await serve(cwd, ['--data-dir', dataDir, '--listen', '127.0.0.1:0']);
    const admin = readFileSync(path.join(dataDir, 'admin.token'), 'utf8').trim();
    const other = path.join(cwd, 'other');
    mkdirSync(other);
    writeFileSync(path.join(other, 'c.yaml'), `${doc('Company')}name: globex\n---\n${doc('Domain')}company: globex\nname: rome\n`);
    expect((await sbAsync(['apply', 'other', '--auto-approve', '--target', 'globex'], { cwd, env: { SWITCHBOARD_RUNTIME: served.url, SWITCHBOARD_TOKEN: admin } })).status).toBe(0);
    const asCompanyAdmin = { SWITCHBOARD_RUNTIME: served.url, SWITCHBOARD_TOKEN: token };
    const own = await sbAsync(['export', '--company', 'acme', '--out', 'acme-export'], { cwd, env: asCompanyAdmin });
    expect(own.status, own.stderr).toBe(0);
    const foreign = await sbAsync(['export', '--company', 'globex', '--out', 'globex-export'], { cwd, env: asCompanyAdmin });
    expect(foreign.status).toBe(1);
    expect(foreign.stderr).toMatch(/globex/);
    // a change to acme goes through; a change to globex is refused, and nothing of it is applied
    writeFileSync(path.join(other, 'c.yaml'), `${doc('Company')}name: globex\n---\n${doc('Domain')}company: globex\nname: rome\ninternalLength: 6\n`);
    const change = await sbAsync(['apply', 'other', '--auto-approve', '--target', 'globex'], { cwd, env: asCompanyAdmin });
    expect(change.status).toBe(1);
    const rome = (await (await fetch(`${served.url}/v1/resources/Domain/${encodeURIComponent('globex/rome')}`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { body: { internalLength?: number } };
    expect(rome.body.internalLength).not.toBe(6);
    const users = readFileSync(path.join(cwd, 'config/users.yaml'), 'utf8');
    writeFileSync(path.join(cwd, 'config/users.yaml'), users.replace('firstName: Alice', 'firstName: Alicia'));
    const ownChange = await sbAsync(['apply', 'config', '--auto-approve', '--target', 'acme/paris/alice'], { cwd, env: { ...QUICK_ENV, ...asCompanyAdmin } });
    expect(ownChange.status, ownChange.stderr).toBe(0);
    expect(await stop(served.child)).toBe(0);
  });
});

describe('README — switchboard dialplan test (compiled CLI)', () => {
  const section = readmeSection('### `switchboard dialplan test [DIR] --domain COMPANY/DOMAIN [--incoming] NUMBER...`');

  it('the README example, run literally, prints what its comment shows', () => {
    const [command, comment] = blocks(section)[0]!.trim().split('\n');
    const args = [...command!.replace(/^npx switchboard /, '').matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
    expect(args).toEqual(['dialplan', 'test', 'examples/quickstart', '--domain', 'acme/paris', '+33 (0) 1 23 45 67 89', '1001']);
    const r = sb(args, { cwd: process.cwd() });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(elided(comment!.replace(/^# /, '')));
    expect(lines[1]).toMatch(/^1001 +→ {2}1001 {4}1001 is an internal number/);
  });

  it('"exit 1 when one cannot be translated", the others still printed', () => {
    const r = sb(['dialplan', 'test', 'examples/quickstart', '--domain', 'acme/paris', '1001', 'extension', '1'.repeat(65)], { cwd: process.cwd() });
    expect(r.status).toBe(1);
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(3);
    expect(r.stdout.match(/\(cannot translate\)/g)).toHaveLength(2);
  });
});

describe.skipIf(!hasSlapd())('README — switchboard sync run (compiled CLI, a real slapd)', () => {
  let slapd: Slapd;
  const people = Array.from({ length: 20 }, (_, i) => person(i));
  beforeAll(async () => {
    slapd = await startSlapd(people);
  });
  afterAll(async () => destroySlapd(slapd));

  /** The quickstart plus the README's import acme/paris/ad, applied to the embedded runtime of a fresh working directory. */
  function workDir(filter = 'objectClass=inetOrgPerson'): { cwd: string; env: Record<string, string> } {
    const cwd = quickstartWorkDir();
    const env = { ...QUICK_ENV, LDAP_PASSWORD };
    writeFileSync(
      path.join(cwd, 'config/import.yaml'),
      `${doc('UserImport')}domain: acme/paris\nname: ad\nsource: activeDirectory\nconnection:\n  host: ${slapd.host}\n  port: ${slapd.port}\n  login: ${ADMIN_DN}\n  password: \${env:LDAP_PASSWORD}\n  baseDn: ${PEOPLE}\n  filter: ${filter}\n  timeoutSeconds: 5\n`,
    );
    const applied = sb(['apply', 'config', '--auto-approve'], { cwd, env });
    expect(applied.status, applied.stderr).toBe(0);
    return { cwd, env };
  }
  const revision = (cwd: string) => (JSON.parse(sb(['status', '--format', 'json'], { cwd }).stdout) as { revision: number }).revision;

  it('the README example, run literally: a dry run of 20 entries prints what its comment shows and writes nothing; a run applies; a re-run writes nothing', async () => {
    const { cwd, env } = workDir();
    const section = readmeSection('### `switchboard sync run NAME [--dry-run] [--data-dir DIR] [--files-dir DIR] [--max-remove-percent N] [--format text|json]`');
    const [command, ...comment] = blocks(section)[0]!.trim().split('\n');
    expect(command).toBe('npx switchboard sync run acme/paris/ad --dry-run');
    const before = revision(cwd);
    const dry = sb(command!.split(' ').slice(2), { cwd, env });
    expect(dry.stderr).toBe('');
    expect(dry.status).toBe(0);
    const printed = dry.stdout.trimEnd().split('\n');
    const sample = comment.map((l) => l.replace(/^# /, '').replace(/ …$/, '')); // a last " …": more lines follow
    expect(printed.slice(0, sample.length)).toEqual(sample.map((l) => expect.stringMatching(elided(l))));
    expect(printed.filter((l) => l.startsWith('  + User '))).toHaveLength(20);
    expect(revision(cwd)).toBe(before);
    const run = sb(['sync', 'run', 'acme/paris/ad'], { cwd, env });
    expect(run.status, run.stderr).toBe(0);
    expect(revision(cwd)).toBe(before + 1); // one change set
    const again = sb(['sync', 'run', 'acme/paris/ad', '--format', 'json'], { cwd, env });
    expect(JSON.parse(again.stdout)).toMatchObject({ outcome: 'unchanged' });
    expect(revision(cwd)).toBe(before + 1);
    for (const r of [dry, run, again]) expect(r.stdout + r.stderr).not.toContain(LDAP_PASSWORD);
    // imported users are owned by import:ad; the configuration does not see them as its own
    expect(sb(['plan', 'config'], { cwd, env }).stdout).toContain('No changes.');
    const rt = await open(path.join(cwd, '.switchboard'), { startEngines: false });
    try {
      const imported = rt.state({ company: 'acme' }).resources.filter((r) => r.kind === 'User' && r.id.startsWith('acme/paris/user'));
      expect(imported).toHaveLength(20);
      expect(new Set(imported.map((u) => u.manager))).toEqual(new Set(['import:ad']));
      expect(rt.get('User', 'acme/paris/alice')?.manager).toBe('config');
    } finally {
      await rt.close();
    }
  });

  it('"Exit 1 when refused or failed", changing nothing: a source with no entries, over 30% deleted (unless --max-remove-percent allows it), an LDAP server that is not there', async () => {
    const { cwd, env } = workDir();
    expect(sb(['sync', 'run', 'ad'], { cwd, env }).status).toBe(0);
    const applied = revision(cwd);

    const typo = workDir('objectClass=inetOrgPersn');
    const empty = sb(['sync', 'run', 'ad'], typo);
    expect(empty.status).toBe(1);
    expect(empty.stdout + empty.stderr).toMatch(/no entries/);

    await slapd.reload(people.slice(0, 13)); // 7 of 20 = 35 %
    try {
      const over = sb(['sync', 'run', 'ad'], { cwd, env });
      expect(over.status).toBe(1);
      expect(over.stdout + over.stderr).toMatch(/over the 30% threshold/);
      expect(revision(cwd)).toBe(applied);
      const allowed = sb(['sync', 'run', 'ad', '--max-remove-percent', '40'], { cwd, env });
      expect(allowed.status, allowed.stdout + allowed.stderr).toBe(0);
      expect(revision(cwd)).toBe(applied + 1);
    } finally {
      await slapd.reload(people);
    }

    await slapd.stop();
    try {
      const down = sb(['sync', 'run', 'ad'], { cwd, env });
      expect(down.status).toBe(1);
      expect(revision(cwd)).toBe(applied + 1);
    } finally {
      await slapd.start();
    }
  });
});

describe('README — Editor completion', () => {
  const schemas = new Map(readdirSync('schemas').filter((f) => f.endsWith('.schema.json')).map((f) => [f, JSON.parse(readFileSync(path.join('schemas', f), 'utf8')) as Record<string, unknown>]));

  /** The schema a $ref names, across the schema files. */
  function target(ref: string, file: string): [Record<string, unknown>, string] {
    const [name, fragment = ''] = ref.split('#');
    const f = name || file;
    let node = schemas.get(f) as Record<string, unknown>;
    for (const part of fragment.split('/').filter(Boolean)) node = node[part] as Record<string, unknown>;
    return [node, f];
  }
  const described = (s: unknown, file: string): boolean =>
    typeof s !== 'object' || s === null || 'description' in s || (typeof (s as { $ref?: string }).$ref === 'string' && described(...target((s as { $ref: string }).$ref, file)));

  it('"tooltips from the schema descriptions": every field of every kind has a description (its own, or its $ref\'s)', () => {
    const missing: string[] = [];
    const walk = (node: unknown, where: string, file: string): void => {
      if (Array.isArray(node)) return node.forEach((n) => walk(n, where, file));
      if (typeof node !== 'object' || node === null) return;
      for (const [key, value] of Object.entries(node)) {
        if (key === 'if' || key === 'then' || key === 'else') continue; // conditions narrow fields declared elsewhere
        if (key === 'properties') {
          for (const [field, s] of Object.entries(value as Record<string, unknown>)) {
            if (field !== 'apiVersion' && field !== 'kind' && !described(s, file)) missing.push(`${where}.${field}`);
            walk(s, `${where}.${field}`, file);
          }
        } else walk(value, where, file);
      }
    };
    const kinds = [...schemas.keys()].filter((f) => !['switchboard.schema.json', 'plan.schema.json', 'defs.schema.json'].includes(f));
    expect(kinds.length).toBeGreaterThanOrEqual(19);
    for (const f of kinds) walk(schemas.get(f), f.replace('.schema.json', ''), f);
    expect(missing).toEqual([]);
  });

  it('"unknown fields underlined": the editor schema refuses an unknown field in every kind', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true, discriminator: true, validateFormats: false });
    const validate = ajv.compile(schemas.get('switchboard.schema.json')!);
    for (const f of readdirSync('examples/quickstart').filter((x) => x.endsWith('.yaml'))) {
      const text = readFileSync(path.join('examples/quickstart', f), 'utf8');
      expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../../schemas/switchboard.schema.json');
    }
    expect(validate({ apiVersion: 'switchboard/v1', kind: 'DialPlan', domain: 'acme/paris', preset: 'fr' })).toBe(true);
    expect(validate({ apiVersion: 'switchboard/v1', kind: 'DialPlan', domain: 'acme/paris', prest: 'fr' })).toBe(false);
    expect(validate({ apiVersion: 'switchboard/v1', kind: 'PbxLink', domain: 'acme/paris', name: 'pbx', protocol: 'csta', ip: '192.0.2.1', port: 1, pbxType: 'A5000', ipp: 'x' })).toBe(false);
  });
});

describe('README — Examples', () => {
  it('quickstart: one company, one domain, a CSTA link, five users, group All authorized for the Caller, the French dial plan, licences', () => {
    const cwd = quickstartWorkDir();
    expect(sb(['apply', 'config', '--auto-approve'], { cwd, env: QUICK_ENV }).status).toBe(0);
    const status = sb(['status', 'links', '--format', 'json'], { cwd });
    expect((JSON.parse(status.stdout) as { id: string; protocol: string }[]).map((l) => [l.id, l.protocol])).toEqual([['acme/paris/pbx', 'csta']]);
    const text = readdirSync(path.join(cwd, 'config')).filter((f) => f.endsWith('.yaml')).map((f) => readFileSync(path.join(cwd, 'config', f), 'utf8')).join('\n---\n');
    expect(text.match(/^kind: Company$/gm)).toHaveLength(1);
    expect(text.match(/^kind: Domain$/gm)).toHaveLength(1);
    expect(text.match(/^ {2}- username: /gm)).toHaveLength(5);
    expect(text).toMatch(/kind: Group\ndomain: acme\/paris\nname: All\n/);
    expect(text).toMatch(/kind: Authorization[\s\S]*group: All[\s\S]*Caller/);
    expect(text).toMatch(/kind: DialPlan\ndomain: acme\/paris\npreset: fr\n/);
    expect(text).toMatch(/licen[cs]es?:|kind: License/i);
  });

  it('multi-site: its README lists every variable the example references', () => {
    const variables = new Set<string>();
    for (const e of readdirSync('examples/multi-site', { recursive: true, withFileTypes: true })) {
      if (e.isFile() && e.name.endsWith('.yaml')) for (const m of readFileSync(path.join(e.parentPath, e.name), 'utf8').matchAll(/\$\{env:([A-Z0-9_]+)\}/g)) variables.add(m[1]!);
    }
    expect(variables.size).toBeGreaterThan(2);
    const readme = readFileSync('examples/multi-site/README.md', 'utf8');
    for (const v of variables) expect(readme, v).toContain(v);
    const all = readdirSync('examples/multi-site', { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith('.yaml'))
      .map((e) => readFileSync(path.join(e.parentPath, e.name), 'utf8'))
      .join('\n');
    expect(all).toMatch(/kind: ApplicationParameter/); // boss/secretary parameters
    expect(all).toMatch(/secretary|boss/i);
    expect(all).toMatch(/kind: PresenceTemplate/);
  });
});

describe('README — Development', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };

  it('the npm scripts the README names exist; npm test builds, type-checks src, tests and benches, then runs vitest', () => {
    const commands = blocks(readmeSection('## Development'))[0]!;
    const named = [...commands.matchAll(/npm (?:run )?([a-z:]+)/g)].map((m) => m[1]!).concat([...commands.matchAll(/\b(bench:[a-z]+)/g)].map((m) => m[1]!));
    expect(named).toEqual(expect.arrayContaining(['build', 'test', 'gen', 'bench', 'bench:validate', 'bench:plan', 'bench:runtime', 'bench:dialplan', 'bench:watch', 'bench:csta', 'bench:sync']));
    for (const name of named) expect(pkg.scripts[name], name).toBeDefined();
    expect(pkg.scripts.build).toBe('tsc -p tsconfig.json && node dist/schema/precompile.js');
    expect(pkg.scripts.test).toMatch(/^npm run build && npm run typecheck && vitest run$/);
    const include = (JSON.parse(readFileSync('tsconfig.test.json', 'utf8')) as { include: string[] }).include;
    expect(include).toEqual(expect.arrayContaining(['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts']));
    // "npm run bench: every benchmark" except bench:sync, which needs slapd
    for (const b of ['bench:validate', 'bench:dialplan', 'bench:plan', 'bench:runtime', 'bench:watch', 'bench:csta']) expect(pkg.scripts.bench).toContain(`npm run ${b}`);
    expect(readFileSync('test/plan/golden.test.ts', 'utf8')).toContain("process.env.UPDATE_GOLDEN === '1'");
  });

  it('"src/cli is the only code that prints or exits" — besides serve\'s log lines and its exit at a second signal (src/server/serve.ts), and the build step src/schema/precompile.ts', () => {
    const offenders: string[] = [];
    for (const e of readdirSync('src', { recursive: true, withFileTypes: true })) {
      if (!e.isFile() || !e.name.endsWith('.ts')) continue;
      const file = path.join(e.parentPath, e.name).split(path.sep).join('/');
      if (file.startsWith('src/cli/')) continue;
      const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      for (const m of code.matchAll(/\b(console\.\w+|process\.(?:exit|exitCode|stdout|stderr))\b/g)) offenders.push(`${file}: ${m[1]}`);
    }
    expect(offenders.sort()).toEqual(['src/schema/precompile.ts: process.stdout', 'src/server/serve.ts: process.exit', 'src/server/serve.ts: process.stdout']);
  });
});

describe('README — Choices', () => {
  it('"ldapts 8.2 is the newest that runs on Node 20"; unbind() runs in finally', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };
    expect(pkg.dependencies.ldapts).toMatch(/^\^8\.2\./);
    expect((JSON.parse(readFileSync('node_modules/ldapts/package.json', 'utf8')) as { version: string }).version).toMatch(/^8\.2\./);
    const ldap = readFileSync('src/sync/ldap.ts', 'utf8');
    expect(ldap).toMatch(/finally\s*\{[^}]*unbind\(\)/);
  });

  it('"Node 20\'s TextDecoder(\'windows-1252\') decodes latin1 (0x92 becomes a control character, not ’)"; iconv-lite gives ’ € œ', () => {
    const bytes = Buffer.from([0x92, 0x80, 0x9c]);
    expect([...new TextDecoder('windows-1252').decode(bytes)].map((c) => c.charCodeAt(0))).toEqual([0x92, 0x80, 0x9c]);
    expect(iconv.decode(bytes, 'windows-1252')).toBe('’€œ');
  });

  it('"Precompiled validators": the build\'s code is used while its digest matches the schemas; edited schemas are compiled at run time instead (a copy of the package)', () => {
    const pkg = tempWorkDir('switchboard-package-');
    for (const d of ['bin', 'dist', 'schemas']) cpSync(d, path.join(pkg, d), { recursive: true });
    writeFileSync(path.join(pkg, 'package.json'), readFileSync('package.json'));
    symlinkSync(path.resolve('node_modules'), path.join(pkg, 'node_modules'));
    // a marker in the copy's precompiled code: a Company validator that refuses everything, with its own message
    const generated = path.join(pkg, 'dist/schema/validators.generated.cjs');
    writeFileSync(
      generated,
      `${readFileSync(generated, 'utf8')}\nmodule.exports.Company = function v() { v.errors = [{ instancePath: '/name', schemaPath: '#/marker', keyword: 'pattern', params: { pattern: 'precompiled-marker' }, message: 'precompiled-marker' }]; return false; };\n`,
    );
    const config = tempWorkDir();
    writeFileSync(path.join(config, 'c.yaml'), `${doc('Company')}name: acme\n`);
    const validate = () => spawnSync(process.execPath, [path.join(pkg, 'bin/switchboard.js'), 'validate', '.'], { cwd: config, encoding: 'utf8', env: { PATH: process.env.PATH } });
    const precompiled = validate();
    expect(precompiled.status).toBe(1);
    expect(precompiled.stderr).toContain('precompiled-marker'); // the digest matches: the build's code ran
    // edit the copy's schema: its digest no longer matches, so the schemas are compiled at run time
    const company = path.join(pkg, 'schemas/Company.schema.json');
    const schema = JSON.parse(readFileSync(company, 'utf8')) as { properties: { name: Record<string, unknown> } };
    Object.assign(schema.properties.name, { type: 'string', maxLength: 3 });
    writeFileSync(company, JSON.stringify(schema, null, 2));
    const compiled = validate();
    expect(compiled.stderr).not.toContain('precompiled-marker');
    expect(compiled.status).toBe(1);
    expect(compiled.stderr).toMatch(/c\.yaml:3:7: error: .*name.*3/);
    writeFileSync(path.join(config, 'c.yaml'), `${doc('Company')}name: abc\n`);
    expect(validate().status).toBe(0);
  });
});
