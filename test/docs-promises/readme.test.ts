/**
 * README.md, the parts about plan, apply, watch, PBX links, export, history and status (the
 * sync, dial-plan and serve sections are proved elsewhere): the quickstart as printed, the
 * plan sample as printed, --help and exit codes of these commands, and `status`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Harness } from '../scenarios/harness.js';
import { QUICK_ENV, quickstartWorkDir, sb } from './helpers.js';

const README = readFileSync('README.md', 'utf8');

/** The body of the first code block after `marker`. */
function blockAfter(marker: string): string[] {
  const from = README.indexOf(marker);
  expect(from, marker).toBeGreaterThanOrEqual(0);
  const open = README.indexOf('```', from);
  const start = README.indexOf('\n', open) + 1;
  return README.slice(start, README.indexOf('```', start)).replace(/\n$/, '').split('\n');
}

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('README — quickstart', () => {
  it('"Break something and validate again" prints exactly what the README shows; apply, then plan says No changes (compiled CLI)', () => {
    const cwd = quickstartWorkDir();
    const users = path.join(cwd, 'config/users.yaml');
    const original = readFileSync(users, 'utf8');
    writeFileSync(users, original.replace('firstName: Alice', 'fristName: Alice').replace('members: [alice,', 'members: [alicia,'));
    const broken = sb(['validate', 'config'], { cwd, env: QUICK_ENV });
    expect(broken.status).toBe(1);
    expect((broken.stderr + broken.stdout).trimEnd().split('\n')).toEqual(blockAfter('Break something and validate again').map((l) => l.replaceAll('examples/quickstart/', 'config/')));
    writeFileSync(users, original);
    expect(sb(['validate', 'config'], { cwd, env: QUICK_ENV }).status).toBe(0);
    expect(sb(['apply', 'config', '--auto-approve'], { cwd, env: QUICK_ENV }).status).toBe(0);
    const again = sb(['plan', 'config'], { cwd, env: QUICK_ENV });
    expect(again.stdout).toContain('No changes.');
  });

  it('the plan sample is what plan prints for a link IP change and a reverted out-of-band edit', async () => {
    h = await Harness.start('embedded', QUICK_ENV);
    h.useConfig('examples/quickstart');
    expect((await h.cli(['apply', 'config', '--auto-approve'])).status).toBe(0);
    await h.apiUpdate('User', 'acme/paris/alice', (b) => ({ ...b, firstName: 'Mallory' }), 'alice');
    h.edit('config/links.yaml', (t) => t.replace('ip: 192.0.2.10', 'ip: 192.0.2.99'));
    const r = await h.cli(['plan', 'config']);
    const printed = r.stdout
      .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z/g, '…')
      .split('\n')
      .slice(2) // the header line naming the runtime, and a blank line
      .join('\n')
      .trimEnd();
    expect(printed).toBe(blockAfter('A plan shows each change, field by field').join('\n'));
  });
});

describe('README — commands', () => {
  const commands = ['plan', 'apply', 'watch', 'history', 'export', 'status', 'status links', 'status extensions', 'status licences'];

  it.each(commands)('%s takes --help (exit 0)', (command) => {
    const r = sb([...command.split(' '), '--help'], { cwd: process.cwd() });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: switchboard /);
  });

  it.each([
    [['plan', '--format', 'xml']],
    [['plan', '--bogus']],
    [['apply', '--bogus']],
    [['watch', '--format', 'yaml']],
    [['history', '--via', 'email']],
    [['export']], // --out is required
    [['status', '--format', 'xml']],
    [['status', 'extensions', '--nope']],
  ])('%j is a usage error: exit 2', (args) => {
    const cwd = quickstartWorkDir();
    expect(sb(args, { cwd, env: QUICK_ENV }).status).toBe(2);
  });

  it('a failure is exit 1: an invalid configuration, a runtime that cannot be reached, a runtime that is no URL', () => {
    const cwd = quickstartWorkDir();
    writeFileSync(path.join(cwd, 'config/bad.yaml'), 'apiVersion: switchboard/v1\nkind: Usr\n');
    expect(sb(['plan', 'config'], { cwd, env: QUICK_ENV }).status).toBe(1);
    expect(sb(['apply', 'config', '--auto-approve'], { cwd, env: QUICK_ENV }).status).toBe(1);
    expect(sb(['history', '--runtime', 'http://127.0.0.1:1'], { cwd, env: { SWITCHBOARD_TOKEN: 't' } }).status).toBe(1);
    expect(sb(['export', '--out', 'x', '--runtime', 'not a url'], { cwd, env: { SWITCHBOARD_TOKEN: 't' } }).status).toBe(1);
  });

  it('status: the runtime\'s revision and its engines (embedded runtime)', async () => {
    h = await Harness.start('embedded', QUICK_ENV);
    h.useConfig('examples/quickstart');
    expect((await h.cli(['apply', 'config', '--auto-approve'])).status).toBe(0);
    const r = await h.cli(['status']);
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`runtime ${h.dataDir} at revision 1`);
    expect(lines[1]).toBe('engines:');
    expect(lines.slice(2, 6).map((l) => l.trim().split(':')[0])).toEqual(['pbx-links', 'sync-schedules', 'user-import', 'directory-sync']);
    expect(lines).toContain('user imports: none');
    const json = JSON.parse((await h.cli(['status', '--format', 'json'])).stdout) as { revision: number; engines: { name: string }[] };
    expect(json.revision).toBe(1);
  });
});
