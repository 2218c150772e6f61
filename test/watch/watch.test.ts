/**
 * `switchboard watch` with real file-system events in a temp directory (chokidar), a real
 * runtime (embedded SQLite, or a real HTTP server for drift), and real git: edits, atomic
 * saves, partial writes, renames, deletions (held unless allowed), a branch checkout, an
 * invalid edit then its fix, drift reverted within one resync, --committed-only. After each
 * step the runtime's state is read back, and the audit log shows how many change sets were
 * committed: never one per event, never one for a half-written tree.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { closeSync, openSync, renameSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { Harness, type Mode } from '../scenarios/harness.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { git, gitInit, QUICK_ENV, quiet, watchIn, type Watching } from './helpers.js';

const USERS = (names: string[], first = 2001) =>
  `apiVersion: switchboard/v1\nkind: User\ndomain: acme/paris\nitems:\n${names
    .map((n, i) => `  - username: ${n}\n    firstName: ${n}\n    email: ${n}@example.com\n    devices:\n      - number: "${first + i}"\n        protocol: CSTA\n`)
    .join('')}`;

let h: Harness | undefined;
let w: Watching | undefined;

afterEach(async () => {
  await w?.stop();
  await h?.close();
  w = undefined;
  h = undefined;
});

async function start(mode: Mode = 'embedded', options: Parameters<typeof watchIn>[2] = {}): Promise<{ h: Harness; w: Watching }> {
  h = await Harness.start(mode, QUICK_ENV);
  h.useConfig('examples/quickstart');
  w = await watchIn(h, 'config', options);
  const first = await w.rec.next((c) => c.trigger === 'start', { from: 0 });
  expect(first.outcome).toBe('applied');
  expect(first.plan).toEqual({ create: 14, update: 0, replace: 0, delete: 0 });
  return { h, w };
}

describe('switchboard watch (working tree)', () => {
  it('applies the tree at start, then each edit once', async () => {
    const { h, w } = await start();
    expect(h.live('User', 'acme/paris/alice')?.body.firstName).toBe('Alice');
    const next = w.rec.next();
    h.edit('config/users.yaml', (t) => t.replace('firstName: Alice', 'firstName: Alicia'));
    const c = await next;
    expect(c).toMatchObject({ trigger: 'files', files: ['config/users.yaml'], parsed: 1, outcome: 'applied', applied: 1, plan: { create: 0, update: 1, replace: 0, delete: 0 } });
    expect(h.live('User', 'acme/paris/alice')?.body.firstName).toBe('Alicia');
    expect(c.revision).toBe(h.revision());
    expect((await w.planApplies()).map((e) => e.revision)).toEqual([1, 2]);
  });

  it('an atomic save (write a temp file, rename it over) is one cycle', async () => {
    const { h, w } = await start();
    const from = w.rec.mark;
    const file = path.join(h.dir, 'config/users.yaml');
    // What editors do: write beside, then rename over the original.
    writeFileSync(`${file}.swp`, h.read('config/users.yaml').replace('lastName: Martin', 'lastName: Dupont'));
    renameSync(`${file}.swp`, file);
    // …and vim's way: move the original to a backup, write a new file, remove the backup.
    const c = await w.rec.next((x) => x.outcome === 'applied', { from });
    expect(h.live('User', 'acme/paris/alice')?.body.lastName).toBe('Dupont');
    const from2 = w.rec.mark;
    renameSync(file, `${file}~`);
    writeFileSync(file, h.read('config/users.yaml~').replace('lastName: Dupont', 'lastName: Durand'));
    unlinkSync(`${file}~`);
    await w.rec.next((x) => x.outcome === 'applied', { from: from2 });
    expect(h.live('User', 'acme/paris/alice')?.body.lastName).toBe('Durand');
    expect(c.applied).toBe(1);
    // Nothing else comes: one apply per save, none for the moment the file was missing.
    expect((await quiet(w.rec, 600)).filter((x) => x.outcome === 'applied')).toEqual([]);
    const applies = await w.planApplies();
    expect(applies).toHaveLength(3);
    expect(applies.slice(1).map((e) => e.changes.map((ch) => `${ch.action} ${ch.id}`))).toEqual([['update acme/paris/alice'], ['update acme/paris/alice']]);
    expect(w.rec.since(from).some((x) => x.held.length > 0)).toBe(false);
  });

  it('a file written in pieces is applied once, complete', async () => {
    const { h, w } = await start();
    const from = w.rec.mark;
    const text = USERS(['zoe', 'yann', 'xavier', 'william']);
    const cut = text.indexOf('  - username: xavier');
    // The first piece alone is a valid tree with two of the four users.
    const fd = openSync(path.join(h.dir, 'config/more.yaml'), 'w');
    writeSync(fd, text.slice(0, cut));
    await new Promise((r) => setTimeout(r, 40));
    writeSync(fd, text.slice(cut));
    closeSync(fd);
    const c = await w.rec.next((x) => x.outcome === 'applied', { from });
    expect(c.plan).toEqual({ create: 4, update: 0, replace: 0, delete: 0 });
    expect(await quiet(w.rec, 500)).toEqual([]);
    const applies = await w.planApplies();
    expect(applies).toHaveLength(2);
    expect(applies[1]!.changes.map((ch) => ch.id).sort()).toEqual(['acme/paris/william', 'acme/paris/xavier', 'acme/paris/yann', 'acme/paris/zoe']);
  });

  it('renaming a file changes nothing', async () => {
    const { h, w } = await start();
    const from = w.rec.mark;
    renameSync(path.join(h.dir, 'config/users.yaml'), path.join(h.dir, 'config/people.yaml'));
    const c = await w.rec.next(() => true, { from });
    expect(c.outcome).toBe('no-changes');
    expect(c.files).toEqual(['config/people.yaml', 'config/users.yaml']);
    expect(c.held).toEqual([]);
    expect(await w.planApplies()).toHaveLength(1);
    expect(h.live('User', 'acme/paris/alice')?.manager).toBe('config');
  });

  it('holds deletions unless allowed: creates and updates still apply', async () => {
    const { h, w } = await start();
    h.write('config/more.yaml', USERS(['zoe']));
    await w.rec.next((c) => c.outcome === 'applied');
    expect(h.live('User', 'acme/paris/zoe')).toBeDefined();
    // Delete the file and edit another in the same burst.
    let next = w.rec.next();
    rmSync(path.join(h.dir, 'config/more.yaml'));
    h.edit('config/users.yaml', (t) => t.replace('firstName: Bruno', 'firstName: Bruna'));
    let c = await next;
    expect(c.outcome).toBe('applied');
    expect(c.plan).toEqual({ create: 0, update: 1, replace: 0, delete: 1 });
    expect(c.held).toEqual([expect.objectContaining({ action: 'delete', kind: 'User', id: 'acme/paris/zoe', reason: 'destroy-not-allowed' })]);
    expect(c.held[0]!.message).toContain('--allow-destroy=User');
    expect(h.live('User', 'acme/paris/zoe')).toBeDefined();
    expect(h.live('User', 'acme/paris/bruno')?.body.firstName).toBe('Bruna');
    // Still pending on the next cycle; restoring the file clears it without a change set.
    next = w.rec.next();
    h.write('config/more.yaml', USERS(['zoe']));
    c = await next;
    expect(c).toMatchObject({ outcome: 'no-changes', held: [] });
    expect(await w.planApplies()).toHaveLength(3);
  });

  it('applies deletions of the kinds named in --allow-destroy', async () => {
    const { h, w } = await start('embedded', { allowDestroy: ['users'] });
    h.write('config/more.yaml', USERS(['zoe', 'yann']));
    await w.rec.next((c) => c.outcome === 'applied');
    const next = w.rec.next();
    rmSync(path.join(h.dir, 'config/more.yaml'));
    const c = await next;
    expect(c).toMatchObject({ outcome: 'applied', applied: 2, held: [] });
    expect(h.live('User', 'acme/paris/zoe')).toBeUndefined();
    expect(h.live('User', 'acme/paris/yann')).toBeUndefined();
  });

  it('an invalid edit applies nothing (reported like validate); the fix applies', async () => {
    const { h, w } = await start();
    const before = h.revision();
    let next = w.rec.next();
    h.edit('config/users.yaml', (t) => t.replace('firstName: Alice', 'fristName: Alice').replace('firstName: Bruno', 'firstName: Bruno2'));
    let c = await next;
    expect(c.outcome).toBe('invalid');
    expect(c.errors).toBeGreaterThan(0);
    expect(c.diagnostics).toContainEqual(expect.objectContaining({ file: 'config/users.yaml', line: 9, severity: 'error', code: 'unknown-field' }));
    expect(c.revision).toBe(before);
    expect(h.revision()).toBe(before);
    expect(h.live('User', 'acme/paris/bruno')?.body.firstName).toBe('Bruno'); // the valid part waits too
    // A second broken save: still nothing.
    next = w.rec.next();
    h.write('config/broken.yaml', 'apiVersion: switchboard/v1\nkind: User\n  bad: [\n');
    expect((await next).outcome).toBe('invalid');
    next = w.rec.next();
    rmSync(path.join(h.dir, 'config/broken.yaml'));
    h.edit('config/users.yaml', (t) => t.replace('fristName: Alice', 'firstName: Alice'));
    c = await next;
    expect(c).toMatchObject({ outcome: 'applied', applied: 1 });
    expect(h.live('User', 'acme/paris/bruno')?.body.firstName).toBe('Bruno2');
    expect((await w.planApplies()).map((e) => e.revision)).toEqual([1, before + 1]);
  });

  it('a git checkout of another branch is one cycle that applies that branch', async () => {
    h = await Harness.start('embedded', QUICK_ENV);
    h.useConfig('examples/quickstart');
    gitInit(h.dir);
    git(h.dir, 'add', 'config');
    git(h.dir, 'commit', '-q', '-m', 'quickstart');
    const main = git(h.dir, 'rev-parse', 'HEAD');
    git(h.dir, 'checkout', '-q', '-b', 'feature');
    h.write('config/more.yaml', USERS(['zoe', 'yann']));
    h.edit('config/users.yaml', (t) => t.replace('firstName: Alice', 'firstName: Alicia'));
    h.edit('config/company.yaml', (t) => `${t}\n`);
    git(h.dir, 'add', 'config');
    git(h.dir, 'commit', '-q', '-m', 'feature: two users, Alicia');
    const feature = git(h.dir, 'rev-parse', 'HEAD');
    git(h.dir, 'checkout', '-q', 'main');
    w = await watchIn(h, 'config', { debounce: '300ms' });
    const first = await w.rec.next((c) => c.trigger === 'start', { from: 0 });
    expect(first.git).toEqual({ commit: main, dirty: false });
    const from = w.rec.mark;
    git(h.dir, 'checkout', '-q', 'feature');
    const c = await w.rec.next((x) => x.outcome === 'applied', { from });
    expect(c.files).toEqual(['config/company.yaml', 'config/more.yaml', 'config/users.yaml']);
    expect(c.plan).toEqual({ create: 2, update: 1, replace: 0, delete: 0 });
    expect(c.git).toEqual({ commit: feature, dirty: false });
    expect(h.live('User', 'acme/paris/zoe')).toBeDefined();
    expect(h.live('User', 'acme/paris/alice')?.body.firstName).toBe('Alicia');
    expect((await quiet(w.rec, 700)).filter((x) => x.outcome === 'applied')).toEqual([]);
    const applies = await w.planApplies();
    expect(applies).toHaveLength(2);
    expect(applies[1]).toMatchObject({ gitCommit: feature, gitDirty: false });
    // Back to main: Alice again; the users only the branch had are held, not deleted.
    const back = w.rec.mark;
    git(h.dir, 'checkout', '-q', 'main');
    const b = await w.rec.next((x) => x.outcome === 'applied', { from: back });
    expect(b.held.map((x) => x.id)).toEqual(['acme/paris/zoe', 'acme/paris/yann']);
    expect(h.live('User', 'acme/paris/alice')?.body.firstName).toBe('Alice');
    expect(h.live('User', 'acme/paris/zoe')).toBeDefined();
  });
});

describe.each<Mode>(['embedded', 'http'])('drift against the %s runtime', (mode) => {
  it('an edit made through the API is reverted within one resync, naming who made it', async () => {
    const { h, w } = await start(mode, { resync: '300ms' });
    await h.apiUpdate('User', 'acme/paris/alice', (b) => ({ ...b, firstName: 'Mallory' }), 'mallory');
    const driftRevision = h.revision();
    const c = await w.rec.next((x) => x.trigger === 'resync' && x.outcome !== 'unchanged', { timeoutMs: 5000 });
    expect(c.outcome).toBe('applied');
    expect(c.drift).toEqual([
      expect.objectContaining({ kind: 'User', id: 'acme/paris/alice', action: 'update', via: 'api', revision: driftRevision, reverted: true, actor: mode === 'embedded' ? 'mallory' : expect.any(String) }),
    ]);
    expect(h.live('User', 'acme/paris/alice')?.body.firstName).toBe('Alice');
    // Converged: the next resync finds nothing to do.
    expect((await w.rec.next((x) => x.trigger === 'resync')).outcome).toBe('unchanged');
  });
});

describe('drift, continued', () => {
  it('a resource deleted out of band is created again, and the audit log says who deleted it', async () => {
    const { h, w } = await start('embedded', { resync: '300ms' });
    h.write('config/more.yaml', USERS(['zoe']));
    await w.rec.next((c) => c.outcome === 'applied');
    const rt = await Runtime.open(h.dataDir, { startEngines: false });
    try {
      const r = rt.apply({ baseRevision: rt.revision(), changes: [{ action: 'delete', kind: 'User', id: 'acme/paris/zoe' }], origin: { via: 'api', actor: 'bob' } });
      expect(r.ok).toBe(true);
    } finally {
      await rt.close();
    }
    const deleted = h.revision();
    const c = await w.rec.next((x) => x.trigger === 'resync' && x.outcome !== 'unchanged', { timeoutMs: 5000 });
    expect(c.outcome).toBe('applied');
    expect(c.drift).toEqual([{ kind: 'User', id: 'acme/paris/zoe', action: 'create', actor: 'bob', via: 'api', revision: deleted, at: expect.any(String), reverted: true }]);
    expect(h.live('User', 'acme/paris/zoe')?.manager).toBe('config');
  });

  it('--no-self-heal reports drift and leaves it, on every cycle, while applying the rest', async () => {
    const { h, w } = await start('embedded', { resync: '300ms', selfHeal: false });
    await h.apiUpdate('User', 'acme/paris/alice', (b) => ({ ...b, firstName: 'Mallory' }), 'mallory');
    const c = await w.rec.next((x) => x.trigger === 'resync' && x.outcome !== 'unchanged', { timeoutMs: 5000 });
    expect(c.outcome).toBe('no-changes');
    expect(c.drift).toEqual([expect.objectContaining({ id: 'acme/paris/alice', actor: 'mallory', reverted: false })]);
    expect(c.held).toEqual([expect.objectContaining({ id: 'acme/paris/alice', reason: 'out-of-band' })]);
    const next = w.rec.next((x) => x.trigger === 'files');
    h.edit('config/users.yaml', (t) => t.replace('firstName: Bruno', 'firstName: Bruna'));
    const d = await next;
    expect(d).toMatchObject({ outcome: 'applied', applied: 1 });
    expect(d.held.map((x) => x.id)).toEqual(['acme/paris/alice']);
    expect(h.live('User', 'acme/paris/alice')?.body.firstName).toBe('Mallory');
    expect(h.live('User', 'acme/paris/bruno')?.body.firstName).toBe('Bruna');
  });
});

describe('switchboard watch --committed-only', () => {
  it('ignores working-tree edits and applies what HEAD points to when it moves', async () => {
    h = await Harness.start('embedded', QUICK_ENV);
    h.useConfig('examples/quickstart');
    gitInit(h.dir);
    git(h.dir, 'add', 'config');
    git(h.dir, 'commit', '-q', '-m', 'quickstart');
    h.edit('config/users.yaml', (t) => t.replace('firstName: Alice', 'firstName: Uncommitted'));
    w = await watchIn(h, 'config', { committedOnly: true });
    const first = await w.rec.next((c) => c.trigger === 'start', { from: 0 });
    expect(first).toMatchObject({ outcome: 'applied', git: { commit: git(h.dir, 'rev-parse', 'HEAD'), dirty: false } });
    expect(h.live('User', 'acme/paris/alice')?.body.firstName).toBe('Alice');
    // More working-tree edits: no cycle at all.
    h.write('config/more.yaml', USERS(['zoe']));
    expect(await quiet(w.rec, 600)).toEqual([]);
    // A commit moves the branch: applied, with the commit in the audit log.
    const from = w.rec.mark;
    git(h.dir, 'add', 'config/more.yaml');
    git(h.dir, 'commit', '-q', '-m', 'zoe');
    const c = await w.rec.next((x) => x.outcome === 'applied', { from });
    expect(c.trigger).toBe('head');
    expect(c.files).toEqual(['config/more.yaml']);
    expect(h.live('User', 'acme/paris/zoe')).toBeDefined();
    expect(h.live('User', 'acme/paris/alice')?.body.firstName).toBe('Alice'); // still uncommitted
    expect((await w.planApplies()).at(-1)).toMatchObject({ gitCommit: git(h.dir, 'rev-parse', 'HEAD'), gitDirty: false });
    // A checkout of another branch moves HEAD.
    git(h.dir, 'stash', '-q');
    git(h.dir, 'checkout', '-q', '-b', 'other', 'HEAD~1');
    h.edit('config/users.yaml', (t) => t.replace('firstName: Bruno', 'firstName: Bruna'));
    git(h.dir, 'commit', '-q', '-am', 'Bruna');
    const d = await w.rec.next((x) => x.outcome === 'applied' && h!.live('User', 'acme/paris/bruno')?.body.firstName === 'Bruna');
    expect(d.held.map((x) => x.id)).toEqual(['acme/paris/zoe']);
  });
});
