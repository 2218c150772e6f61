/**
 * docs/format.md, promise by promise, where test/config and test/validate do not prove it
 * already: the exact limits (aliases, depth, 32 MiB, 64 KiB secrets), one trailing newline
 * removed from a secret file, `${file:}` relative to its YAML file, --secrets-dir on plan,
 * apply and watch, the scope and id of every kind, references across companies, and the
 * editor modeline of the examples. Real files in temp directories; the compiled CLI.
 */
import { describe, expect, it } from 'vitest';
import { closeSync, ftruncateSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { header, short, tempDir, validateFiles } from '../helpers.js';
import { validateConfig } from '../../src/validate/validate.js';
import { processSecretSource } from '../../src/config/secrets.js';
import { KIND_NAMES, kindInfo, type KindName } from '../../src/model/kinds.js';
import { startWatch } from '../../src/cli/watch.js';
import { Recorder } from '../watch/helpers.js';
import { QUICK_ENV, quickstartWorkDir, sb, tempWorkDir } from './helpers.js';

const base = { 'c.yaml': `${header('Company')}name: acme\n---\n${header('Domain')}company: acme\nname: paris\n` };

describe('docs/format.md — files', () => {
  it('anchors and aliases: up to 100 uses of one anchor (its definition and 99 aliases), counted per anchor', () => {
    const usersWith = (n: number, anchors = 1) => {
      let text = `${header('User')}domain: acme/paris\nitems:\n`;
      for (let a = 0; a < anchors; a++) {
        text += `  - username: anchor${a}\n    culture: &c${a} fr-FR\n`;
        for (let i = 0; i < n; i++) text += `  - username: u${a}x${i}\n    culture: *c${a}\n`;
      }
      return validateFiles({ ...base, 'u.yaml': text });
    };
    expect(usersWith(99).diagnostics).toEqual([]);
    expect(usersWith(100).diagnostics.map((d) => d.code)).toEqual(['yaml-alias-limit']);
    expect(usersWith(99, 3).diagnostics).toEqual([]); // 297 aliases in the document, 99 per anchor
  });

  it('no document nested deeper than 64 levels (below its top level)', () => {
    const flow = (k: number) => validateFiles({ 'u.yaml': `${header('Company')}name: acme\nextra: ${'['.repeat(k)}${']'.repeat(k)}\n` }).diagnostics.map((d) => d.code);
    expect(flow(64)).not.toContain('yaml-too-deep');
    expect(flow(65)).toEqual(['yaml-too-deep']);
    const block = (k: number) => {
      let text = `${header('Company')}name: acme\nextra:\n`;
      for (let i = 0; i < k; i++) text += `${' '.repeat(2 * (i + 1))}a:\n`;
      text += `${' '.repeat(2 * (k + 1))}x\n`;
      return validateFiles({ 'u.yaml': text }).diagnostics.map((d) => d.code);
    };
    expect(block(64)).not.toContain('yaml-too-deep');
    expect(block(65)).toEqual(['yaml-too-deep']);
  });

  it('files over 32 MiB are refused without being read; 32 MiB itself is read', () => {
    const dir = tempDir();
    const sparse = (name: string, size: number) => {
      const fd = openSync(path.join(dir, name), 'w');
      ftruncateSync(fd, size);
      closeSync(fd);
    };
    sparse('exact.yaml', 32 * 1024 * 1024);
    sparse('over.yaml', 32 * 1024 * 1024 + 1);
    const r = validateConfig('.', { secrets: processSecretSource({}, dir), cwd: dir });
    expect(r.diagnostics.map(short)).toEqual(['exact.yaml:1:1 file-not-text', 'over.yaml:1:1 file-too-large']);
  });

  it('YAML 1.2 core schema: yes/no/on are strings; an unquoted 00 is a number, and validation says to quote it', () => {
    const r = validateFiles({
      ...base,
      'u.yaml': `${header('User')}domain: acme/paris\nusername: on\nfirstName: yes\nlastName: no\n`,
      'p.yaml': `${header('Company')}name: other\nprotect: yes\n---\n${header('Domain')}company: other\nname: x\ninternationalPrefix: 00\n`,
    });
    const user = r.state.resources.find((x) => x.kind === 'User');
    expect(user?.body).toMatchObject({ username: 'on', firstName: 'yes', lastName: 'no' });
    expect(r.diagnostics.map((d) => `${short(d)} ${d.message}`)).toEqual([
      'p.yaml:4:10 wrong-type protect must be true or false, found a string',
      'p.yaml:10:22 wrong-type internationalPrefix must be a string (quote it if it looks like a number), found an integer',
    ]);
  });

  it('a file is UTF-8 text, with or without a BOM', () => {
    const r = validateFiles({ 'c.yaml': Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(base['c.yaml'])]) });
    expect(r.diagnostics).toEqual([]);
  });
});

describe('docs/format.md — scopes and ids', () => {
  it('each kind has the documented scope', () => {
    const documented: Record<string, KindName[]> = {
      server: ['Company', 'AdminAccount'],
      company: ['Domain', 'License', 'PresenceTemplate', 'Connector', 'ApplicationParameter'],
      domain: ['DialPlan', 'PbxLink', 'User', 'Group', 'IntercomGroup', 'CallQueue', 'BotGroup', 'Directory', 'UserImport', 'CalendarServer', 'SmsProvider', 'Authorization'],
    };
    for (const [scope, kinds] of Object.entries(documented)) for (const k of kinds) expect(kindInfo(k).scope, k).toBe(scope);
    expect(Object.values(documented).flat().sort()).toEqual(KIND_NAMES.filter((k) => k !== 'Contact').sort());
  });

  it('ids are built as the table shows them', () => {
    const id = (kind: KindName, body: Record<string, unknown>) => kindInfo(kind).id(body);
    expect(id('Company', { name: 'acme' })).toBe('acme');
    expect(id('AdminAccount', { username: 'root' })).toBe('root');
    expect(id('Domain', { company: 'acme', name: 'paris' })).toBe('acme/paris');
    expect(id('License', { company: 'acme', application: 'Caller' })).toBe('acme/Caller');
    expect(id('PresenceTemplate', { company: 'acme', name: 'Busy' })).toBe('acme/Busy');
    expect(id('Connector', { company: 'acme', name: 'exchange' })).toBe('acme/exchange');
    expect(id('ApplicationParameter', { company: 'acme', application: 'TWS Caller', name: 'vmNumber' })).toBe('acme/TWS Caller/vmNumber');
    expect(id('DialPlan', { domain: 'acme/paris' })).toBe('acme/paris');
    expect(id('User', { domain: 'acme/paris', username: 'jdoe' })).toBe('acme/paris/jdoe');
    expect(id('Group', { domain: 'acme/paris', name: 'All' })).toBe('acme/paris/All');
    expect(id('Authorization', { domain: 'acme/paris', object: { application: 'Caller' }, grantee: { group: 'All' } })).toBe('acme/paris/application:Caller/group:All');
    expect(id('Authorization', { domain: 'acme/paris', object: { calendar: { user: 'jdoe' } }, grantee: { group: 'Sales' } })).toBe('acme/paris/calendar:user:jdoe/group:Sales');
  });

  it('company/domain/name is understood only to report that nothing is shared across companies', () => {
    const r = validateFiles({
      ...base,
      'globex.yaml': `${header('Company')}name: globex\n---\n${header('Domain')}company: globex\nname: paris\n---\n${header('User')}domain: globex/paris\nusername: jdoe\n`,
      'g.yaml': `${header('Group')}domain: acme/paris\nname: g\nmembers: [globex/paris/jdoe]\n`,
    });
    expect(r.diagnostics.map((d) => `${short(d)} ${d.message}`)).toEqual(["g.yaml:5:11 scope-company user 'globex/paris/jdoe' is in company 'globex': nothing is shared across companies; reference a user of company 'acme'"]);
  });
});

describe('docs/format.md — secrets', () => {
  const link = (password: string) => `${header('PbxLink')}domain: acme/paris\nname: pbx\nprotocol: csta\nip: 192.0.2.1\nport: 3211\nusername: u\npassword: ${password}\n`;
  const passwordOf = (files: Record<string, string | Buffer>) => {
    const r = validateFiles({ ...base, ...files });
    return { codes: r.diagnostics.map((d) => d.code), value: r.state.resources.find((x) => x.kind === 'PbxLink')?.body.password };
  };

  it('${file:} is relative to the directory of the YAML file naming it; one trailing newline is removed', () => {
    expect(passwordOf({ 'paris/links.yaml': link('${file:secret.txt}'), 'paris/secret.txt': 'pw\n' })).toEqual({ codes: [], value: 'pw' });
    expect(passwordOf({ 'paris/links.yaml': link('${file:secret.txt}'), 'secret.txt': 'pw\n' }).codes).toEqual(['secret-file-missing']);
    expect(passwordOf({ 'links.yaml': link('${file:s.txt}'), 's.txt': 'pw\n\n' }).value).toBe('pw\n');
    expect(passwordOf({ 'links.yaml': link('${file:s.txt}'), 's.txt': 'pw\r\n' }).value).toBe('pw');
    expect(passwordOf({ 'links.yaml': link('${file:s.txt}'), 's.txt': 'pw' }).value).toBe('pw');
  });

  it('a secret file of 64 KiB is read; one byte more is refused', () => {
    expect(passwordOf({ 'links.yaml': link('${file:s.txt}'), 's.txt': 'x'.repeat(64 * 1024) }).codes).toEqual([]);
    expect(passwordOf({ 'links.yaml': link('${file:s.txt}'), 's.txt': 'x'.repeat(64 * 1024 + 1) }).codes).toEqual(['secret-file-invalid']);
  });

  it('--secrets-dir works on plan and apply (compiled CLI) and on watch', async () => {
    const cwd = quickstartWorkDir();
    const vault = tempWorkDir('switchboard-vault-');
    writeFileSync(path.join(vault, 'csta'), 'from-the-vault\n');
    const links = path.join(cwd, 'config/links.yaml');
    writeFileSync(links, readFileSync(links, 'utf8').replace('${env:CSTA_PASSWORD}', `\${file:${path.join(vault, 'csta')}}`));
    const refused = sb(['plan', 'config'], { cwd, env: QUICK_ENV });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('[secret-file-outside]');
    expect(sb(['plan', 'config', '--secrets-dir', vault, '--out', 'plan.json'], { cwd, env: QUICK_ENV }).status).toBe(0);
    expect(readFileSync(path.join(cwd, 'plan.json'), 'utf8')).not.toContain('from-the-vault');
    expect(sb(['apply', 'plan.json'], { cwd, env: QUICK_ENV }).status).toBe(1); // the saved plan's reference is outside too
    expect(sb(['apply', 'plan.json', '--secrets-dir', vault], { cwd, env: QUICK_ENV }).status).toBe(0);
    writeFileSync(path.join(cwd, 'config/more.yaml'), `${header('Group')}domain: acme/paris\nname: Team\n`);
    expect(sb(['apply', 'config', '--auto-approve'], { cwd, env: QUICK_ENV }).status).toBe(1);
    expect(sb(['apply', 'config', '--auto-approve', '--secrets-dir', vault], { cwd, env: QUICK_ENV }).status).toBe(0);
    const rec = new Recorder();
    const sink = { write: () => true } as unknown as NodeJS.WriteStream;
    writeFileSync(path.join(vault, 'csta'), 'rotated-in-the-vault\n');
    const session = await startWatch('config', { resync: '0', secretsDir: [vault] }, { stdout: sink, env: QUICK_ENV, cwd }, { host: rec });
    try {
      const c = await rec.next((x) => x.trigger === 'start', { from: 0 });
      expect(c).toMatchObject({ outcome: 'applied', applied: 1 });
    } finally {
      await session.stop();
    }
  });
});

describe('docs/format.md — editor completion', () => {
  it('every example file names schemas/switchboard.schema.json in a modeline that resolves', () => {
    const files = readdirSync('examples', { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && /\.ya?ml$/.test(e.name) && !e.parentPath.includes(`${path.sep}ci`));
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const first = readFileSync(path.join(f.parentPath, f.name), 'utf8').split('\n')[0]!;
      const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
      expect(m, path.join(f.parentPath, f.name)).not.toBeNull();
      expect(path.resolve(f.parentPath, m![1]!)).toBe(path.resolve('schemas/switchboard.schema.json'));
    }
    const schema = JSON.parse(readFileSync('schemas/switchboard.schema.json', 'utf8')) as Record<string, unknown>;
    expect(JSON.stringify(schema)).toContain('"description"');
  });
});


