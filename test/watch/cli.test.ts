/**
 * The `watch` and `history` commands as users run them: `switchboard watch` as a real child
 * process stopped by SIGTERM/SIGINT (exit 0), its JSON output, its usage errors; `history`
 * with git commits and dirty marks; `apply PLANFILE` of a plan made from a dirty tree warns.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Harness } from '../scenarios/harness.js';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { startWatch } from '../../src/cli/watch.js';
import { git, gitInit, QUICK_ENV, Recorder } from './helpers.js';

const BIN = path.resolve('bin/switchboard.js');

/** `switchboard watch …` as a child process; resolves lines of stdout as they come. */
function spawnWatch(cwd: string, args: string[]) {
  const child = spawn(process.execPath, [BIN, 'watch', ...args], { cwd, env: { ...process.env, ...QUICK_ENV, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    for (const w of [...waiters]) {
      if (!w.re.test(stdout)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    output: () => ({ stdout, stderr }),
    until: (re: RegExp, timeoutMs = 15_000) =>
      new Promise<void>((resolve, reject) => {
        if (re.test(stdout)) return resolve();
        const t = setTimeout(() => reject(new Error(`no ${re} in output within ${timeoutMs} ms:\n${stdout}\n${stderr}`)), timeoutMs);
        waiters.push({
          re,
          resolve: () => {
            clearTimeout(t);
            resolve();
          },
        });
      }),
  };
}

function quickstartDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-watch-cli-'));
  cpSync('examples/quickstart', path.join(dir, 'config'), { recursive: true });
  return dir;
}

describe('switchboard watch (child process)', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('%s exits 0 after the cycle in flight', async (signal) => {
    const dir = quickstartDir();
    const w = spawnWatch(dir, ['config', '--resync', '0']);
    await w.until(/#1 start · plan \+14 ~0 ∓0 -0 · applied 14 changes → revision 1/);
    writeFileSync(path.join(dir, 'config/users.yaml'), readFileSync(path.join(dir, 'config/users.yaml'), 'utf8').replace('firstName: Alice', 'firstName: Alicia'));
    await w.until(/#2 files \(config\/users\.yaml\) · plan \+0 ~1 ∓0 -0 · applied 1 change → revision 2/);
    w.child.kill(signal);
    expect(await w.exited).toBe(0);
    expect(w.output().stdout).toContain(`Stopped (${signal}) after 2 cycles.`);
    expect(w.output().stderr).toBe('');
  });

  it('--format json prints one JSON object per line', async () => {
    const dir = quickstartDir();
    const w = spawnWatch(dir, ['config', '--format', 'json', '--resync', '0', '--allow-destroy', 'User,Group']);
    await w.until(/"type":"cycle"/);
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    const events = w.output().stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.map((e) => e.type)).toEqual(['started', 'cycle', 'stopped']);
    expect(events[0]).toMatchObject({ root: 'config', mode: 'working-tree', resyncMs: 0, debounceMs: 300, allowDestroy: ['Group', 'User'], selfHeal: true });
    expect(events[1]).toMatchObject({ cycle: 1, trigger: 'start', outcome: 'applied', applied: 14, revision: 1, held: [], drift: [], files: expect.arrayContaining(['config/users.yaml']) });
    expect(events[1]!.timings).toEqual({ load: expect.any(Number), validate: expect.any(Number), plan: expect.any(Number), apply: expect.any(Number) });
  });
});

describe('switchboard watch of one company\'s export', () => {
  it('owns that company only (.switchboard-company): the other company is not planned for deletion', async () => {
    const dir = quickstartDir();
    writeFileSync(path.join(dir, 'config/globex.yaml'), 'apiVersion: switchboard/v1\nkind: Company\nname: globex\n---\napiVersion: switchboard/v1\nkind: Domain\ncompany: globex\nname: hq\n');
    const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, ...QUICK_ENV }, encoding: 'utf8' });
    expect(run(['apply', 'config', '--auto-approve']).status).toBe(0);
    expect(run(['export', '--company', 'globex', '--out', 'globex']).status).toBe(0);
    const w = spawnWatch(dir, ['globex', '--resync', '0']);
    await w.until(/#1 start · no changes · revision 1/);
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
  });
});

describe('switchboard watch: a runtime that cannot be reached', () => {
  it('says so and retries with backoff, applying nothing', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const dir = quickstartDir();
    const rec = new Recorder();
    const sink = { write: () => true } as unknown as NodeJS.WriteStream;
    const session = await startWatch('config', { resync: '0' }, { stdout: sink, env: { ...QUICK_ENV, SWITCHBOARD_RUNTIME: `http://127.0.0.1:${port}`, SWITCHBOARD_TOKEN: 'x' }, cwd: dir }, { host: rec });
    try {
      const c = await rec.next((x) => x.outcome === 'failed', { from: 0 });
      expect(c).toMatchObject({ trigger: 'start', failure: { unreachable: true, attempt: 1, retryInMs: 1000 } });
      expect(c.failure!.message).toContain(`127.0.0.1:${port}`);
      const again = await rec.next((x) => x.trigger === 'retry', { timeoutMs: 5000 });
      expect(again.failure).toMatchObject({ unreachable: true, attempt: 2, retryInMs: 2000 });
    } finally {
      await session.stop();
    }
  });
});

describe('switchboard watch: usage', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it.each([
    [['--resync', '5 minutes'], "--resync: '5 minutes' is not a duration"],
    [['--debounce', 'x'], "--debounce: 'x' is not a duration"],
    [['--allow-destroy', 'Userz'], "--allow-destroy: unknown kind 'Userz'"],
    [['missing-dir'], "cannot watch 'missing-dir': no such file or directory"],
    [['--committed-only'], '--committed-only needs the configuration in a git work tree'],
  ])('%j is refused: %s', async (args, message) => {
    h = await Harness.start('embedded', QUICK_ENV);
    h.useConfig('examples/quickstart');
    const r = await h.cli(['watch', ...(args[0] === 'missing-dir' ? [] : ['config']), ...args]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(message);
  });
});

describe('switchboard history, and plans from a dirty tree', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('lists applies newest first with commit, dirty mark, author and summary; apply of a dirty plan warns', async () => {
    h = await Harness.start('embedded', QUICK_ENV);
    h.useConfig('examples/quickstart');
    gitInit(h.dir);
    git(h.dir, 'add', 'config');
    git(h.dir, 'commit', '-q', '-m', 'Quickstart configuration');
    const commit = git(h.dir, 'rev-parse', 'HEAD');
    expect((await h.cli(['apply', 'config', '--auto-approve'])).status).toBe(0);
    // An uncommitted edit, planned and saved, then applied from the file.
    h.edit('config/users.yaml', (t) => t.replace('firstName: Alice', 'firstName: Alicia'));
    expect((await h.cli(['plan', 'config', '--out', 'plan.json'])).status).toBe(0);
    expect(JSON.parse(h.read('plan.json')).config.git).toEqual({ commit, dirty: true });
    const apply = await h.cli(['apply', 'plan.json']);
    expect(apply.status).toBe(0);
    expect(apply.stderr).toContain(`warning: this plan was made from a configuration with uncommitted changes (git ${commit.slice(0, 12)} + local edits)`);
    // A clean plan file does not warn.
    git(h.dir, 'commit', '-q', '-am', 'Alicia');
    h.edit('config/users.yaml', (t) => t.replace('firstName: Bruno', 'firstName: Bruna'));
    git(h.dir, 'commit', '-q', '-am', 'Bruna');
    expect((await h.cli(['plan', 'config', '--out', 'plan.json'])).status).toBe(0);
    const clean = await h.cli(['apply', 'plan.json']);
    expect(clean.status).toBe(0);
    expect(clean.stderr).not.toContain('warning');
    await h.apiUpdate('User', 'acme/paris/chloe', (b) => ({ ...b, lastName: 'Roux' }), 'mallory');

    const text = await h.cli(['history']);
    expect(text.status).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^REV\s+TIME \(UTC\)\s+ACTOR\s+VIA\s+COMMIT\s+SUMMARY$/);
    expect(lines[1]).toMatch(/^ *4 .* mallory +api +- +update User acme\/paris\/chloe$/);
    expect(lines[2]).toMatch(new RegExp(`^ *3 .* local +plan +${git(h.dir, 'rev-parse', 'HEAD').slice(0, 12)} +0 to create, 1 to update, 0 to replace, 0 to delete — "Bruna" by Test Author$`));
    expect(lines[3]).toMatch(new RegExp(`^ *2 .* ${commit.slice(0, 12)}\\+dirty +0 to create, 1 to update.* — "Quickstart configuration" by Test Author$`));
    expect(lines[4]).toMatch(new RegExp(`^ *1 .* ${commit.slice(0, 12)} +14 to create`));
    expect(lines).toHaveLength(5);

    const json = await h.cli(['history', '--format', 'json', '--via', 'plan', '--limit', '2']);
    const entries = JSON.parse(json.stdout) as Record<string, unknown>[];
    expect(entries.map((e) => e.revision)).toEqual([3, 2]);
    expect(entries[1]).toMatchObject({ actor: 'local', via: 'plan', gitCommit: commit, gitDirty: true, commitAuthor: 'Test Author', commitSubject: 'Quickstart configuration', changes: [{ action: 'update', kind: 'User', id: 'acme/paris/alice' }] });
    expect((await h.cli(['history', '--limit', '0'])).stderr).toContain("--limit: '0' is not a number from 1 to 10000");
  });

  it('history of a fresh runtime says there is none', async () => {
    h = await Harness.start('http', QUICK_ENV);
    const r = await h.cli(['history']);
    expect(r).toMatchObject({ status: 0, stdout: 'No change sets yet.\n' });
  });
});
