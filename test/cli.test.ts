/** The compiled `switchboard` binary, run as a user would (npm test builds first). */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { header, tempDir, writeTree } from './helpers.js';

const BIN = path.resolve('bin/switchboard.js');

function run(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: { PATH: process.env.PATH, ...options.env },
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('switchboard validate (compiled CLI)', () => {
  it('is built', () => {
    expect(existsSync('dist/cli/main.js')).toBe(true);
  });

  it('exits 0 on a valid tree and says so', () => {
    const r = run(['validate', 'examples/quickstart'], { env: { CSTA_PASSWORD: 'x', SWITCHBOARD_ADMIN_PASSWORD: 'y' } });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^valid: \d+ files, \d+ resources, 0 errors, 0 warnings\n$/);
    expect(r.status).toBe(0);
  });

  it('exits 1 with FILE:LINE:COL diagnostics, sorted, and a summary', () => {
    const dir = tempDir();
    writeTree(dir, {
      'a.yaml': `${header('Company')}name: acme\n---\n${header('Domain')}company: acme\nname: paris\ninternalLenght: 4\n`,
      'b.yaml': `${header('User')}domain: acme/paris\nusername: jdoe\npassword: hunter2\n`,
    });
    const r = run(['validate', '.'], { cwd: dir });
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toEqual([
      "a.yaml:9:1: error: unknown field 'internalLenght' in Domain. Did you mean 'internalLength'? [unknown-field]",
      "b.yaml:5:11: warning: 'password' holds a literal secret that will be committed with the configuration: use ${env:NAME} or ${file:relative/path} [secret-literal]",
      'invalid: 2 files, 2 resources, 1 error, 1 warning',
    ]);
    expect(r.stdout + r.stderr).not.toContain('hunter2');
  });

  it('--format json gives the same diagnostics as objects', () => {
    const dir = tempDir();
    writeTree(dir, { 'a.yaml': `${header('Company')}name: acme\nprotect: maybe\n` });
    const r = run(['validate', '.', '--format', 'json'], { cwd: dir });
    expect(r.status).toBe(1);
    const out = JSON.parse(r.stdout) as { valid: boolean; summary: Record<string, number>; diagnostics: Record<string, unknown>[] };
    expect(out.valid).toBe(false);
    expect(out.summary).toEqual({ files: 1, resources: 0, errors: 1, warnings: 0 });
    expect(out.diagnostics).toEqual([
      { severity: 'error', code: 'wrong-type', message: 'protect must be true or false, found a string', file: 'a.yaml', line: 4, column: 10, path: 'protect' },
    ]);
  });

  it('never prints a resolved secret', () => {
    const dir = tempDir();
    writeTree(dir, { 'a.yaml': `${header('AdminAccount')}username: root\npassword: \${env:ROOT_PW}\nsuperUser: true\ncompanies: [nope]\n` });
    const r = run(['validate', '.', '--format', 'json'], { cwd: dir, env: { ROOT_PW: 's3cr3t-value' } });
    expect(r.stdout + r.stderr).not.toContain('s3cr3t-value');
    expect(r.status).toBe(1);
  });

  it('exits 2 on usage errors', () => {
    expect(run(['validate', '--format', 'xml']).status).toBe(2);
    expect(run(['validate', '--bogus']).status).toBe(2);
    expect(run(['frobnicate']).status).toBe(2);
  });

  it('prints help and version with exit 0', () => {
    const help = run(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('validate');
    expect(run(['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('switchboard dialplan test (compiled CLI)', () => {
  it('prints each translation with its reason, the manual examples included', () => {
    const r = run(['dialplan', 'test', 'examples/quickstart', '--domain', 'acme/paris', '+33 (0) 123456789', '+3912334477', '1001']);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^\+33 \(0\) 123456789 {2}→ {2}00123456789 {4}rule 10 /);
    expect(lines[1]).toMatch(/→ {2}0003912334477 {4}rule 40 /);
    expect(lines[2]).toMatch(/→ {2}1001 {4}1001 is an internal number/);
  });

  it('exits 1 when a number cannot be translated', () => {
    const r = run(['dialplan', 'test', 'examples/quickstart', '--domain', 'acme/paris', '0612345678', 'no digits']);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('(cannot translate)');
  });

  it('translates incoming numbers with --incoming, as JSON with --format json', () => {
    const dir = tempDir();
    writeTree(dir, {
      'a.yaml': `${header('Company')}name: acme\n---\n${header('Domain')}company: acme\nname: paris\ninternalLength: 4\ncountryCode: "33"\nexternalPrefix: "0"\ninternationalPrefix: "00"\n`,
      'dp.yaml': `${header('DialPlan')}domain: acme/paris\nincomingRemove: "0"\nincomingAdd: "+33"\n`,
    });
    const r = run(['dialplan', 'test', '--domain', 'acme/paris', '--incoming', '--format', 'json', '0612345678'], { cwd: dir });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { translations: { input: string; result: string; direction: string }[] };
    expect(out.translations.map((t) => [t.input, t.direction, t.result])).toEqual([['0612345678', 'incoming', '+33612345678']]);
  });

  it('refuses an unknown domain and an invalid dial plan with a clear message', () => {
    expect(run(['dialplan', 'test', 'examples/quickstart', '--domain', 'acme/pari', '1']).stderr).toContain("no Domain 'acme/pari'");
    const dir = tempDir();
    writeTree(dir, {
      'a.yaml': `${header('Company')}name: acme\n---\n${header('Domain')}company: acme\nname: paris\n`,
      'dp.yaml': `${header('DialPlan')}domain: acme/paris\noutgoing:\n  - priority: 1\n    pattern: "[(\\\\d{1000}){1000}]"\n    value: "1"\n`,
    });
    const r = run(['dialplan', 'test', '--domain', 'acme/paris', '0612345678'], { cwd: dir });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/dp\.yaml:6:14: error: .*\[regex-too-large\]/);
  });
});
