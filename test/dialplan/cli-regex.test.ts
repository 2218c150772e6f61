// `switchboard dialplan test` (the compiled CLI, as an administrator runs it) with adversarial
// rules: V8's backtracking engine took minutes on a 10-digit number; the bounded matcher answers
// at once. The child is killed after 20 s, so the test fails instead of hanging.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { header, tempDir, writeTree } from '../helpers.js';

const BIN = path.resolve('bin/switchboard.js');

function run(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH }, encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, error: r.error };
}

// YAML single quotes keep backslashes as they are
const FORTY_OPTIONAL_DIGITS = `'[${'\\d?'.repeat(40)}#]'`;
const ALTERNATIVES_WRITTEN_OUT = `'[${'(?:\\d|\\d)'.repeat(30)}#]'`;

describe('switchboard dialplan test with adversarial rules (compiled CLI)', () => {
  it('is built', () => {
    expect(existsSync('dist/cli/main.js')).toBe(true);
  });

  it('translates with the issue\'s rules in both directions and answers promptly', () => {
    const dir = tempDir();
    writeTree(dir, {
      'a.yaml': `${header('Company')}name: acme\n---\n${header('Domain')}company: acme\nname: paris\ninternalLength: 4\ncountryCode: "33"\nexternalPrefix: "0"\ninternationalPrefix: "00"\n`,
      'dp.yaml':
        `${header('DialPlan')}domain: acme/paris\npreset: fr\n` +
        `outgoing:\n  - priority: 1\n    pattern: ${FORTY_OPTIONAL_DIGITS}\n    value: "9"\n  - priority: 2\n    pattern: ${ALTERNATIVES_WRITTEN_OUT}\n    value: "9"\n  - priority: 3\n    pattern: '[(\\d+)+#]'\n    value: "9"\n` +
        `incoming:\n  - priority: 1\n    pattern: ${FORTY_OPTIONAL_DIGITS}\n    value: "9"\n  - priority: 2\n    pattern: '[(\\d|\\d\\d)+#]'\n    value: "9"\n`,
    });
    const numbers = ['0612345678', '06 12 34 56 78 90 12 34 56 78 90 12', '+33 6 12 34 56 78'];
    const started = Date.now();
    const outgoing = run(['dialplan', 'test', '--domain', 'acme/paris', '--format', 'json', ...numbers], dir);
    const incoming = run(['dialplan', 'test', '--domain', 'acme/paris', '--incoming', '--format', 'json', ...numbers], dir);
    expect(outgoing.error).toBeUndefined(); // not killed by the timeout
    expect(incoming.error).toBeUndefined();
    expect(outgoing.stderr).toBe('');
    expect(outgoing.status).toBe(0);
    expect(incoming.status).toBe(0);
    const results = (r: { stdout: string }) => (JSON.parse(r.stdout) as { translations: { result: string | null }[] }).translations.map((t) => t.result);
    // no adversarial rule matches (no #): the preset and the defaults decide
    expect(results(outgoing)).toEqual(['00612345678', '0061234567890123456789012', '00612345678']);
    expect(results(incoming)).toEqual(['0612345678', '061234567890123456789012', '+33612345678']);
    expect(Date.now() - started).toBeLessThan(15_000); // two whole processes; V8 alone took minutes
  });
});
