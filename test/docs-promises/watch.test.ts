/**
 * docs/watch.md (and the README's watch and history sections), promise by promise, where
 * test/watch does not prove it already: default timings and backoff, one more cycle queued
 * during a cycle, stale plans re-planned up to three times, refusals not retried until
 * something moves, paths watch ignores, --allow-destroy without a share threshold, held
 * changes in every JSON cycle, unmanaged resources left alone, --committed-only diagnostics
 * and secrets, the cycle object's fields, a second signal exiting 130, and history.
 * Real components: chokidar on temp directories, the embedded runtime or a real HTTP server,
 * git, the compiled CLI as a child process; a manual clock where time is the subject.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Harness } from '../scenarios/harness.js';
import { git, gitInit, ManualClock, quiet, Recorder, watchIn, type Watching } from '../watch/helpers.js';
import { terminalHost } from '../../src/cli/watch.js';
import { openEmbedded } from '../../src/runtime/embedded.js';
import { processSecretSource } from '../../src/config/secrets.js';
import { Watcher } from '../../src/watch/watcher.js';
import { WorkingTreeSource } from '../../src/watch/tree-source.js';
import type { CycleEvent, StartedEvent } from '../../src/watch/events.js';
import type { RuntimeClient } from '../../src/runtime/types.js';
import { BIN, doc, QUICK_ENV, tempWorkDir, users } from './helpers.js';

/** The fields docs/watch.md lists for a cycle object ("Output"). */
const DOCUMENTED_CYCLE_FIELDS = ['type', 'cycle', 'trigger', 'at', 'files', 'parsed', 'git', 'outcome', 'plan', 'applied', 'revision', 'held', 'drift', 'diagnostics', 'errors', 'warnings', 'refusal', 'failure', 'durationMs', 'timings'];
const DOCUMENTED_OUTCOMES = ['applied', 'no-changes', 'unchanged', 'invalid', 'refused', 'failed', 'cancelled'];

/** Every cycle seen has only documented fields, outcomes and timing phases. */
function documented(cycles: readonly CycleEvent[]): void {
  for (const c of cycles) {
    for (const k of Object.keys(c)) expect(DOCUMENTED_CYCLE_FIELDS).toContain(k);
    expect(DOCUMENTED_OUTCOMES).toContain(c.outcome);
    for (const k of Object.keys(c.timings)) expect(['load', 'validate', 'plan', 'apply']).toContain(k);
    for (const held of c.held) expect(Object.keys(held).sort()).toEqual(['action', 'id', 'kind', 'message', 'reason']);
    for (const d of c.drift) for (const k of Object.keys(d)) expect(['kind', 'id', 'action', 'actor', 'via', 'revision', 'at', 'reverted']).toContain(k);
    if (c.plan) expect(Object.keys(c.plan).sort()).toEqual(['create', 'delete', 'replace', 'update']);
    if (c.refusal) expect(Object.keys(c.refusal).sort()).toEqual(['code', 'message', 'problems']);
    if (c.failure) expect(Object.keys(c.failure).sort()).toEqual(['attempt', 'message', 'retryInMs', 'unreachable']);
    if (c.git) expect(Object.keys(c.git).sort()).toEqual(['commit', 'dirty']);
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/**
 * A Watcher over examples/quickstart on a real embedded runtime, with a manual clock and no
 * timing options: the defaults are what is tested. `before(apply)` runs before each change set.
 */
async function manualWatcher(options: { down?: () => boolean; beforeApply?: (n: number) => void; gate?: () => Promise<void> | undefined } = {}) {
  const dir = tempWorkDir('switchboard-docs-watch-');
  cpSync('examples/quickstart', path.join(dir, 'config'), { recursive: true });
  const real = await openEmbedded(path.join(dir, '.switchboard'));
  let applies = 0;
  const fail = () => {
    if (options.down?.()) throw Object.assign(new Error('fetch failed'), { cause: new Error('connect ECONNREFUSED 127.0.0.1:7480') });
  };
  const client: RuntimeClient = {
    location: real.location,
    state: async (f) => (fail(), real.state(f)),
    fingerprint: async (v) => (fail(), real.fingerprint(v)),
    impact: async (c) => (fail(), real.impact(c)),
    audit: async (q) => (fail(), real.audit(q)),
    status: async () => (fail(), real.status()),
    links: async () => real.links(),
    licences: async (f) => real.licences(f),
    extensions: async (q) => real.extensions(q),
    apply: async (cs) => {
      fail();
      applies++;
      options.beforeApply?.(applies);
      await options.gate?.();
      return real.apply(cs);
    },
    close: () => real.close(),
  };
  const clock = new ManualClock();
  const rec = new Recorder();
  const watcher = new Watcher({ root: 'config', source: new WorkingTreeSource('config', { cwd: dir }), client, secrets: processSecretSource(QUICK_ENV, dir), host: rec, scheduler: clock });
  cleanups.push(async () => {
    await watcher.stop();
    await real.close();
  });
  return { dir, real, clock, rec, watcher, applies: () => applies, file: (rel: string) => path.join(dir, 'config', rel) };
}

describe('docs/watch.md — timings (manual clock)', () => {
  it('defaults: debounce 300 ms, resync 5 min after the last cycle', async () => {
    const { clock, rec, watcher, file } = await manualWatcher();
    watcher.start();
    expect(rec.events[0]).toMatchObject({ type: 'started', debounceMs: 300, resyncMs: 300_000 });
    await rec.next((c) => c.trigger === 'start', { from: 0 });
    await clock.settled();
    expect(clock.pending).toEqual([300_000]);
    const from = rec.mark;
    watcher.notify({ type: 'file', path: file('users.yaml') });
    clock.advance(299);
    await new Promise((r) => setTimeout(r, 20));
    expect(rec.since(from)).toEqual([]);
    clock.advance(1);
    await rec.next(() => true, { from });
    documented(rec.cycles);
  });

  it('a failed cycle is retried after 1 s, 2 s, 4 s … up to 60 s; the first success resets the delay', async () => {
    let down = true;
    const { clock, rec, watcher, file } = await manualWatcher({ down: () => down });
    watcher.start();
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 9; attempt++) {
      const c = await rec.next((x) => x.outcome === 'failed' && x.failure!.attempt === attempt, { from: 0 });
      delays.push(c.failure!.retryInMs);
      await clock.settled();
      clock.advance(c.failure!.retryInMs);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000]);
    down = false;
    await rec.next((x) => x.outcome === 'applied', { from: 0 });
    down = true;
    const from = rec.mark;
    watcher.notify({ type: 'file', path: file('users.yaml') });
    clock.advance(300);
    expect((await rec.next((x) => x.outcome === 'failed', { from })).failure).toMatchObject({ attempt: 1, retryInMs: 1000 });
    documented(rec.cycles);
  });

  it('one cycle at a time: events during a cycle queue exactly one more', async () => {
    let release: (() => void) | undefined;
    let gate: Promise<void> | undefined;
    const { clock, rec, watcher, file, applies } = await manualWatcher({ gate: () => gate });
    watcher.start();
    await rec.next((c) => c.trigger === 'start', { from: 0 });
    gate = new Promise<void>((r) => (release = r));
    writeFileSync(file('more.yaml'), users(['zoe']));
    watcher.notify({ type: 'file', path: file('more.yaml') });
    clock.advance(300);
    while (applies() < 2) await new Promise((r) => setTimeout(r, 5)); // the second cycle is sending its change set
    const from = rec.mark;
    for (const name of ['yann', 'xavier', 'william']) {
      writeFileSync(file(`${name}.yaml`), users([name], name.length * 100 + 2000));
      watcher.notify({ type: 'file', path: file(`${name}.yaml`) });
      clock.advance(400); // each quiet long enough: three debounced triggers while the cycle runs
    }
    expect(rec.since(from)).toEqual([]);
    gate = undefined;
    release!();
    const after = await rec.next((c) => c.trigger === 'files' && c.files.includes('config/william.yaml'), { from });
    expect(after).toMatchObject({ outcome: 'applied', applied: 3 });
    expect(rec.since(from).map((c) => c.files)).toEqual([['config/more.yaml'], ['config/william.yaml', 'config/xavier.yaml', 'config/yann.yaml']]);
    documented(rec.cycles);
  });

  it('a stale plan (someone committed between plan and apply) is planned again at once, up to three times', async () => {
    let bumps = 0;
    let bumpOn = (_n: number) => false;
    const { rec, watcher, real, applies, clock } = await manualWatcher({
      beforeApply: (n) => {
        if (!bumpOn(n)) return;
        bumps++;
        // An administrator commits in between: an API-made group, nothing config owns.
        const r = real.runtime.apply({ baseRevision: real.runtime.revision(), changes: [{ action: 'create', kind: 'Company', id: `other${bumps}`, body: { name: `other${bumps}` } }], origin: { via: 'api', actor: 'eve' } });
        expect(r.ok).toBe(true);
      },
    });
    bumpOn = (n) => n === 1;
    watcher.start();
    const first = await rec.next(() => true, { from: 0 });
    expect(first).toMatchObject({ trigger: 'start', outcome: 'applied', applied: 14 });
    expect(applies()).toBe(2); // planned again once, applied the second time
    expect(clock.pending).not.toContain(1000);

    const fresh = await manualWatcher({
      beforeApply: () => {
        const r = fresh.real.runtime.apply({ baseRevision: fresh.real.runtime.revision(), changes: [{ action: 'create', kind: 'Company', id: `busy${fresh.applies()}`, body: { name: `busy${fresh.applies()}` } }], origin: { via: 'api', actor: 'eve' } });
        expect(r.ok).toBe(true);
      },
    });
    fresh.watcher.start();
    const c = await fresh.rec.next(() => true, { from: 0 });
    expect(fresh.applies()).toBe(3);
    expect(c.outcome).toBe('failed');
    expect(c.failure!.message).toContain('3 stale attempts in a row');
    expect(c.failure!.retryInMs).toBe(1000);
    expect(fresh.real.runtime.get('User', 'acme/paris/alice')).toBeUndefined();
    documented([...rec.cycles, ...fresh.rec.cycles]);
  });
});

let h: Harness | undefined;
let w: Watching | undefined;
afterEach(async () => {
  await w?.stop();
  await h?.close();
  w = undefined;
  h = undefined;
});

async function watching(options: Parameters<typeof watchIn>[2] = {}, mode: 'embedded' | 'http' = 'embedded'): Promise<{ h: Harness; w: Watching }> {
  h = await Harness.start(mode, QUICK_ENV);
  h.useConfig('examples/quickstart');
  w = await watchIn(h, 'config', options);
  expect((await w.rec.next((c) => c.trigger === 'start', { from: 0 })).outcome).toBe('applied');
  return { h, w };
}

describe('docs/watch.md — what a cycle reads and applies', () => {
  it('dotfiles, dot-folders, node_modules and non-YAML files start no cycle; a .yml file does', async () => {
    const { h, w } = await watching();
    const from = w.rec.mark;
    h.write('config/.hidden.yaml', users(['hidden']));
    h.write('config/.drafts/draft.yaml', users(['draft']));
    h.write('config/node_modules/pkg/x.yaml', users(['module']));
    h.write('config/README.md', '# notes\n');
    h.write('config/notes.txt', 'users: zoe\n');
    expect(await quiet(w.rec, 800)).toEqual([]);
    h.write('config/more.yml', users(['zoe']));
    const c = await w.rec.next(() => true, { from });
    expect(c).toMatchObject({ trigger: 'files', files: ['config/more.yml'], outcome: 'applied', applied: 1 });
    expect(h.live('User', 'acme/paris/hidden')).toBeUndefined();
    documented(w.rec.cycles);
  });

  it('a delete of a kind named in --allow-destroy applies with no share threshold; others stay held, in every cycle', async () => {
    const { h, w } = await watching({ allowDestroy: ['User'] });
    const names = Array.from({ length: 10 }, (_, i) => `u${i}`);
    h.write('config/more.yaml', users(names));
    h.write('config/team.yaml', `${doc('Group')}domain: acme/paris\nname: Team\n`);
    await w.rec.next((c) => c.outcome === 'applied' && c.plan!.create === 11);
    // 10 of 15 users (67 %, over apply's 30 % threshold) and the group.
    let next = w.rec.next();
    rmSync(path.join(h.dir, 'config/more.yaml'));
    rmSync(path.join(h.dir, 'config/team.yaml'));
    let c = await next;
    expect(c).toMatchObject({ outcome: 'applied', applied: 10, plan: { delete: 11 } });
    expect(c.held).toEqual([expect.objectContaining({ action: 'delete', kind: 'Group', id: 'acme/paris/Team', reason: 'destroy-not-allowed' })]);
    expect(h.live('User', 'acme/paris/u9')).toBeUndefined();
    // The held deletion is reported again by the next cycle, which changes something else.
    next = w.rec.next();
    h.edit('config/users.yaml', (t) => t.replace('firstName: Bruno', 'firstName: Bruna'));
    c = await next;
    expect(c).toMatchObject({ outcome: 'applied', applied: 1 });
    expect(c.held.map((x) => x.id)).toEqual(['acme/paris/Team']);
    expect(h.live('Group', 'acme/paris/Team')).toBeDefined();
    documented(w.rec.cycles);
  });

  it('a change set the runtime refuses applies nothing and is not retried until the files or the runtime change', async () => {
    const { h, w } = await watching({ resync: '250ms' });
    h.write('config/more.yaml', users(['zoe']));
    await w.rec.next((c) => c.outcome === 'applied');
    const revision = h.revision();
    // zoe's deletion is held, and yann takes her extension: the runtime refuses yann.
    let next = w.rec.next();
    h.write('config/more.yaml', users(['yann']));
    const refused = await next;
    expect(refused).toMatchObject({ outcome: 'refused', revision, held: [expect.objectContaining({ id: 'acme/paris/zoe' })] });
    expect(refused.refusal!.problems.map((p) => p.code)).toContain('extension-conflict');
    expect(h.revision()).toBe(revision);
    // Resyncs find nothing moved: not planned, not sent again.
    const resyncs = await Promise.all([w.rec.next((c) => c.trigger === 'resync'), w.rec.next((c) => c.trigger === 'resync' && c.cycle > refused.cycle + 1)]);
    for (const r of resyncs) expect(r.outcome).toBe('unchanged');
    // The files change: applied.
    next = w.rec.next((c) => c.trigger === 'files');
    h.write('config/more.yaml', users(['yann'], 2009));
    expect(await next).toMatchObject({ outcome: 'applied', applied: 1 });
    documented(w.rec.cycles);
  });

  it('resources other managers own are never touched, even with --allow-destroy', async () => {
    h = await Harness.start('embedded', QUICK_ENV);
    h.useConfig('examples/quickstart');
    expect((await h.cli(['apply', 'config', '--auto-approve'])).status).toBe(0);
    h.syncCreate('import:ad', [{ kind: 'User', id: 'acme/paris/imported', body: { domain: 'acme/paris', username: 'imported', firstName: 'From AD' } }]);
    await h.apiUpdate('User', 'acme/paris/alice', (b) => b); // an API edit of a config resource is drift, not ownership
    const rt = h.revision();
    w = await watchIn(h, 'config', { allowDestroy: ['User'] });
    const c = await w.rec.next((x) => x.trigger === 'start', { from: 0 });
    expect(c.outcome).toBe('no-changes');
    expect(h.revision()).toBe(rt);
    expect(h.live('User', 'acme/paris/imported')?.manager).toBe('import:ad');
  });
});

describe('docs/watch.md — --committed-only', () => {
  it('diagnostics name the working-tree paths; ${file:} secrets come from the working tree (not committed)', async () => {
    h = await Harness.start('embedded', QUICK_ENV);
    h.useConfig('examples/quickstart');
    h.edit('config/links.yaml', (t) => t.replace('${env:CSTA_PASSWORD}', '${file:secrets/csta.txt}'));
    h.write('config/secrets/csta.txt', 'from-the-working-tree\n');
    h.write('.gitignore', 'config/secrets/\n.switchboard/\n');
    gitInit(h.dir);
    git(h.dir, 'add', '.');
    git(h.dir, 'commit', '-q', '-m', 'quickstart, secret file left out');
    expect(git(h.dir, 'ls-files', 'config/secrets')).toBe('');
    w = await watchIn(h, 'config', { committedOnly: true });
    const first = await w.rec.next((c) => c.trigger === 'start', { from: 0 });
    expect(first.outcome).toBe('applied');
    const [fp] = await w.session.client.fingerprint(['from-the-working-tree']);
    expect(h.live('PbxLink', 'acme/paris/pbx')?.body.password).toEqual({ $secret: fp });
    const from = w.rec.mark;
    h.edit('config/users.yaml', (t) => t.replace('firstName: Alice', 'fristName: Alice'));
    git(h.dir, 'commit', '-q', '-am', 'a typo');
    const c = await w.rec.next(() => true, { from });
    expect(c).toMatchObject({ trigger: 'head', outcome: 'invalid' });
    expect(c.diagnostics).toContainEqual(expect.objectContaining({ file: 'config/users.yaml', line: 9, column: 5, code: 'unknown-field' }));
    documented(w.rec.cycles);
  });
});

describe('docs/watch.md — output and signals', () => {
  it('the start line says what runs, as in the example', async () => {
    let out = '';
    const host = terminalHost({ stdout: { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream }, 'text');
    const started: StartedEvent = { type: 'started', at: new Date().toISOString(), root: 'config', runtime: 'embedded:/srv/lab/.switchboard', mode: 'working-tree', resyncMs: 300_000, debounceMs: 300, allowDestroy: [], selfHeal: true };
    host.emit(started);
    expect(out).toBe('Watching config → embedded:/srv/lab/.switchboard; resync every 5 min, deletions held (allow with --allow-destroy=KIND), self-heal on. Stop with Ctrl-C.\n');
  });

  it('a second SIGTERM while finishing exits at once with 130 (compiled CLI)', async () => {
    // A runtime that accepts connections and never answers: the first cycle stays in flight.
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    });
    const cwd = tempWorkDir();
    cpSync('examples/quickstart', path.join(cwd, 'config'), { recursive: true });
    const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    const child = spawn(process.execPath, [BIN, 'watch', 'config', '--runtime', url, '--resync', '0'], { cwd, env: { PATH: process.env.PATH, ...QUICK_ENV, SWITCHBOARD_TOKEN: 'x', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(async () => void child.kill('SIGKILL'));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    for (let i = 0; i < 1500 && !(stdout.includes('Stop with Ctrl-C') && sockets.size > 0); i++) await new Promise((r) => setTimeout(r, 10));
    expect(stdout).toContain('Stop with Ctrl-C');
    child.kill('SIGTERM');
    const early = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 700))]);
    expect(early).toBe('still running'); // waiting for the cycle in flight
    child.kill('SIGTERM');
    expect(await exited).toBe(130);
    expect(stderr).toContain('SIGTERM again: exiting without waiting');
  });
});

describe('docs/watch.md — switchboard history', () => {
  it('newest first, 20 by default, --via filters; JSON entries carry planDigest and changes', async () => {
    h = await Harness.start('embedded', QUICK_ENV);
    h.useConfig('examples/quickstart');
    expect((await h.cli(['apply', 'config', '--auto-approve'])).status).toBe(0);
    for (let i = 0; i < 21; i++) await h.apiUpdate('User', 'acme/paris/bruno', (b) => ({ ...b, lastName: `Petit${i}` }), 'mallory');
    const text = await h.cli(['history']);
    const rows = text.stdout.trimEnd().split('\n').slice(1);
    expect(rows).toHaveLength(20);
    expect(rows.map((r) => Number(r.trim().split(/\s+/)[0]))).toEqual(Array.from({ length: 20 }, (_, i) => 22 - i));
    const plans = JSON.parse((await h.cli(['history', '--via', 'plan', '--format', 'json'])).stdout) as { revision: number; via: string; planDigest?: string; changes: unknown[] }[];
    expect(plans.map((e) => [e.revision, e.via])).toEqual([[1, 'plan']]);
    expect(plans[0]!.planDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(plans[0]!.changes).toHaveLength(14);
    const api = JSON.parse((await h.cli(['history', '--via', 'api', '--limit', '3', '--format', 'json'])).stdout) as { actor: string; via: string }[];
    expect(api.map((e) => `${e.actor} ${e.via}`)).toEqual(['mallory api', 'mallory api', 'mallory api']);
  });

  it('ACTOR is the token\'s administrator over HTTP, local for the embedded runtime', async () => {
    h = await Harness.start('http', QUICK_ENV);
    h.useConfig('examples/quickstart');
    expect((await h.cli(['apply', 'config', '--auto-approve'])).status).toBe(0);
    const token = h.tokens!.create('acme-admin').token;
    h.edit('config/users.yaml', (t) => t.replace('firstName: Alice', 'firstName: Alicia'));
    expect((await h.cli(['apply', 'config', '--auto-approve', '--target', 'acme'], { token })).status).toBe(0);
    const entries = JSON.parse((await h.cli(['history', '--format', 'json'])).stdout) as { revision: number; actor: string }[];
    expect(entries.map((e) => `${e.revision} ${e.actor}`)).toEqual(['2 acme-admin', expect.stringMatching(/^1 (?!local$)\S+$/)]);
    await h.close();
    h = undefined;
    const embedded = await Harness.start('embedded', QUICK_ENV);
    h = embedded;
    embedded.useConfig('examples/quickstart');
    expect((await embedded.cli(['apply', 'config', '--auto-approve'])).status).toBe(0);
    expect((JSON.parse((await embedded.cli(['history', '--format', 'json'])).stdout) as { actor: string }[])[0]!.actor).toBe('local');
  });
});
