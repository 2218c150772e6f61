/**
 * Promises of docs/runtime.md ("Store", "Change sets", "Secrets") that the other runtime tests
 * do not prove, against real SQLite files (and a second process where the promise is about one).
 */
import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { KEY_FILE } from '../../src/runtime/crypto.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { DB_FILE, Store } from '../../src/runtime/store.js';
import { changeSet, open, ROOT, tempDir } from './helpers.js';

const opened: Runtime[] = [];
afterEach(async () => {
  for (const rt of opened.splice(0)) await rt.close();
});

async function fresh(dir = path.join(tempDir(), '.switchboard')): Promise<Runtime> {
  const rt = await open(dir, { startEngines: false });
  opened.push(rt);
  const r = rt.apply(
    changeSet(0, [
      { action: 'create', kind: 'Company', id: 'acme', body: { name: 'acme' } },
      { action: 'create', kind: 'Domain', id: 'acme/paris', body: { company: 'acme', name: 'paris', internalLength: 4 } },
      { action: 'create', kind: 'User', id: 'acme/paris/a', body: { domain: 'acme/paris', username: 'a', password: 'Pass-of-a-1111' } },
      { action: 'create', kind: 'User', id: 'acme/paris/b', body: { domain: 'acme/paris', username: 'b', password: 'Pass-of-b-2222' } },
    ]),
  );
  if (!r.ok) throw new Error(r.message);
  return rt;
}

describe('Store', () => {
  it('"synchronous = FULL" on the store connection', async () => {
    const rt = await fresh();
    const store = Store.open(path.join(rt.dataDir, DB_FILE));
    try {
      expect(store.db.pragma('synchronous', { simple: true })).toBe(2);
      expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      store.close();
    }
  });

  it('"Writers wait for each other up to the busy timeout": a change set waits for another process\'s write lock, then commits', async () => {
    const rt = await fresh();
    const file = path.join(rt.dataDir, DB_FILE);
    // Another process takes the write lock for one second.
    const holder = spawn(
      process.execPath,
      ['-e', `const D = require('better-sqlite3'); const db = new D(${JSON.stringify(file)}); db.exec('BEGIN IMMEDIATE'); process.stdout.write('locked\\n'); setTimeout(() => { db.exec('COMMIT'); db.close(); }, 1000);`],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => holder.stdout!.on('data', (d: Buffer) => d.toString().includes('locked') && resolve()));
    const t0 = Date.now();
    const r = rt.apply(changeSet(rt.revision(), [{ action: 'create', kind: 'User', id: 'acme/paris/w', body: { domain: 'acme/paris', username: 'w' } }]));
    expect(r.ok).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(500);
    await new Promise((r2) => holder.on('exit', r2));
  });

  it('"A change set with no change is not a commit: the revision stays"', async () => {
    const rt = await fresh();
    const before = rt.revision();
    expect(rt.apply(changeSet(before, []))).toEqual({ ok: true, revision: before, applied: 0 });
    expect(rt.revision()).toBe(before);
    expect(rt.audit({ limit: 1 })[0]!.revision).toBe(before);
  });

  it('"Objects handed out are never mutated afterwards: a LiveState is a consistent snapshot"', async () => {
    const rt = await fresh();
    const state = rt.state();
    const copy = structuredClone(state);
    const a = rt.get('User', 'acme/paris/a')!;
    expect(rt.apply(changeSet(rt.revision(), [{ action: 'update', kind: 'User', id: 'acme/paris/a', body: { ...a.body, firstName: 'Changed' } }, { action: 'delete', kind: 'User', id: 'acme/paris/b' }])).ok).toBe(true);
    expect(state).toEqual(copy);
    expect(a.body.firstName).toBeUndefined();
  });
});

describe('Change sets', () => {
  it('"When several codes occur, the result\'s code is the first of forbidden, not-found, exists, not-managed, invalid"', async () => {
    const rt = await fresh();
    const base = rt.revision();
    const exists = { action: 'create', kind: 'User', id: 'acme/paris/a', body: { domain: 'acme/paris', username: 'a' } } as const;
    const notFound = { action: 'delete', kind: 'User', id: 'acme/paris/zz' } as const;
    const invalid = { action: 'create', kind: 'User', id: 'acme/paris/x', body: { domain: 'acme/paris', username: 'y' } } as const;
    const forbidden = { action: 'delete', kind: 'User', id: 'globex/berlin/h' } as const;
    expect(rt.apply(changeSet(base, [invalid, exists]))).toMatchObject({ ok: false, code: 'exists' });
    expect(rt.apply(changeSet(base, [exists, notFound, invalid]))).toMatchObject({ ok: false, code: 'not-found' });
    const admin = { username: 'alice', superUser: false, companies: ['acme'] };
    const r = rt.apply(changeSet(base, [invalid, exists, notFound, forbidden]), admin);
    expect(r).toMatchObject({ ok: false, code: 'forbidden' });
    if (!r.ok) expect(r.problems.map((p) => p.code).sort()).toEqual(['exists', 'forbidden', 'id-mismatch', 'not-found']);
  });

  it('"The audit entry records the actor (the principal\'s username when given, else origin.actor, else local)"', async () => {
    const rt = await fresh();
    const user = (n: string) => [{ action: 'create' as const, kind: 'User' as const, id: `acme/paris/${n}`, body: { domain: 'acme/paris', username: n } }];
    rt.apply({ baseRevision: rt.revision(), changes: user('p1'), origin: { via: 'api', actor: 'from-body' } }, { username: 'alice', superUser: true, companies: [] });
    expect(rt.audit({ limit: 1 })[0]!.actor).toBe('alice');
    rt.apply({ baseRevision: rt.revision(), changes: user('p2'), origin: { via: 'api', actor: 'from-body' } });
    expect(rt.audit({ limit: 1 })[0]!.actor).toBe('from-body');
    rt.apply({ baseRevision: rt.revision(), changes: user('p3'), origin: { via: 'api' } });
    expect(rt.audit({ limit: 1 })[0]!.actor).toBe('local');
  });
});

describe('Secrets', () => {
  it('"one that is not 32 bytes is refused (key-invalid)"', async () => {
    const dir = path.join(tempDir(), '.switchboard');
    const rt = await open(dir, { startEngines: false });
    await rt.close();
    writeFileSync(path.join(dir, KEY_FILE), Buffer.alloc(16, 7), { mode: 0o600 });
    await expect(open(dir, { startEngines: false })).rejects.toMatchObject({ code: 'key-invalid', message: expect.stringMatching(/holds 16 bytes, not 32: restore it from backup/) });
  });

  it('"a ciphertext copied into another resource does not decrypt" (the kind and id are its additional data)', async () => {
    const rt = await fresh();
    const dir = rt.dataDir;
    expect(rt.secret('User', 'acme/paris/b', ['password'])).toBe('Pass-of-b-2222');
    await rt.close();
    opened.splice(opened.indexOf(rt), 1);
    const db = new Database(path.join(dir, DB_FILE));
    db.prepare(`UPDATE resources SET secrets = (SELECT secrets FROM resources WHERE kind = 'User' AND id = 'acme/paris/a') WHERE kind = 'User' AND id = 'acme/paris/b'`).run();
    db.close();
    const again = await open(dir, { startEngines: false });
    opened.push(again);
    expect(again.secret('User', 'acme/paris/a', ['password'])).toBe('Pass-of-a-1111');
    expect(() => again.secret('User', 'acme/paris/b', ['password'])).toThrow();
  });

  it('"the runtime replaces any secret of 4 characters or more that would appear in" a problem message', async () => {
    const rt = await fresh();
    // The password is also a device number that conflicts with another user's: the conflict
    // message names the number, and so would name the password.
    const r = rt.apply(
      changeSet(rt.revision(), [
        { action: 'create', kind: 'User', id: 'acme/paris/c', body: { domain: 'acme/paris', username: 'c', password: '1001', devices: [{ number: '1001', protocol: 'CSTA' }] } },
        { action: 'create', kind: 'User', id: 'acme/paris/d', body: { domain: 'acme/paris', username: 'd', devices: [{ number: '1001', protocol: 'CSTA' }] } },
      ]),
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const text = JSON.stringify(r.problems);
    expect(text).toContain('(sensitive)');
    expect(text).not.toContain('1001');
  });
});
