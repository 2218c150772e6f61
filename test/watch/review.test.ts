/**
 * examples/ci/review.sh, the review workflow any CI can run, in a temp git repository against
 * a real runtime (embedded, and a real HTTP server): plan on a pull request (markdown +
 * plan.json, --detailed-exitcode semantics), apply on main, a stale plan refused loudly with
 * a fresh plan to review, and plan-then-apply when no plan file was kept.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Harness, type Mode } from '../scenarios/harness.js';
import { git, gitInit, QUICK_ENV } from './helpers.js';

const SCRIPT = path.resolve('examples/ci/review.sh');
const SWITCHBOARD = `${process.execPath} ${path.resolve('bin/switchboard.js')}`;

/** Run the script (asynchronously: with the HTTP runtime, the server answers from this process). */
function review(h: Harness, ...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...QUICK_ENV, NO_COLOR: '1', SWITCHBOARD, OUT_DIR: 'out' };
  if (h.mode === 'http') Object.assign(env, { SWITCHBOARD_RUNTIME: h.url, SWITCHBOARD_TOKEN: h.token });
  const child = spawn('bash', [SCRIPT, ...args], { cwd: h.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
}

describe.each<Mode>(['embedded', 'http'])('examples/ci/review.sh against the %s runtime', (mode) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('plans on a pull request, applies on main, refuses a stale plan loudly', async () => {
    h = await Harness.start(mode, QUICK_ENV);
    h.useConfig('examples/quickstart');
    gitInit(h.dir);
    git(h.dir, 'add', 'config');
    git(h.dir, 'commit', '-q', '-m', 'Quickstart');

    // Pull request: changes present → exit 2, plan.md printed and written, plan.json kept.
    let r = await review(h, 'plan', 'config');
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(/^### Plan: 14 to create, 0 to update, 0 to replace, 0 to delete\./);
    expect(h.read('out/plan.md')).toBe(r.stdout);
    expect(r.stderr).toContain('review.sh: changes planned: post out/plan.md on the pull request');
    expect(JSON.parse(h.read('out/plan.json'))).toMatchObject({ formatVersion: 1, config: { git: { commit: git(h.dir, 'rev-parse', 'HEAD'), dirty: false } } });

    // Main: exactly that plan is applied.
    r = await review(h, 'apply', 'config');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Applied 14 changes. Runtime revision is now 1.');
    expect(h.live('User', 'acme/paris/alice')?.manager).toBe('config');

    // Nothing left to do: exit 0.
    r = await review(h, 'plan', 'config');
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('review.sh: no changes');

    // A pull request changes a user; before it is applied, someone edits the runtime.
    h.edit('config/users.yaml', (t) => t.replace('firstName: Alice', 'firstName: Alicia'));
    git(h.dir, 'commit', '-q', '-am', 'Alicia');
    expect((await review(h, 'plan', 'config')).status).toBe(2);
    await h.apiUpdate('User', 'acme/paris/bruno', (b) => ({ ...b, firstName: 'Mallory' }), 'mallory');
    r = await review(h, 'apply', 'config');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('refused, nothing applied: the plan was made at revision 1 and the runtime has moved to revision 2 since; make a new plan (switchboard plan config)');
    expect(r.stderr).toContain('review.sh: APPLY REFUSED: out/plan.json is STALE');
    expect(r.stderr).toContain('The plan against the runtime as it is now is in out/replan.md');
    expect(h.read('out/replan.md')).toContain('Plan: 0 to create, 2 to update');
    expect(h.live('User', 'acme/paris/alice')?.body.firstName).toBe('Alice'); // nothing applied

    // Without a kept plan file, apply plans first, then applies that plan.
    expect(existsSync(path.join(h.dir, 'out/plan.json'))).toBe(true);
    rmSync(path.join(h.dir, 'out/plan.json'));
    r = await review(h, 'apply', 'config');
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('review.sh: no saved plan at out/plan.json: planning config now');
    expect(h.live('User', 'acme/paris/alice')?.body.firstName).toBe('Alicia');
    expect(h.live('User', 'acme/paris/bruno')?.body.firstName).toBe('Bruno');
  });

  it('an invalid configuration fails the plan step with exit 1; bad usage exits 2', async () => {
    h = await Harness.start(mode, QUICK_ENV);
    h.useConfig('examples/quickstart');
    h.edit('config/users.yaml', (t) => t.replace('firstName: Alice', 'fristName: Alice'));
    const r = await review(h, 'plan', 'config');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("config/users.yaml:9:5: error: unknown field 'fristName'");
    expect(r.stderr).toContain('review.sh: plan FAILED');
    expect((await review(h)).status).toBe(2);
    expect((await review(h, 'deploy')).status).toBe(2);
  });
});
