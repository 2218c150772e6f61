import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireServeLock, openEmbedded, ServeLockError } from '../../src/runtime/embedded.js';
import type { RuntimeClient } from '../../src/runtime/types.js';
import { changeSet, creates, quickstart, SECRETS, tempDir } from './helpers.js';

const clients: RuntimeClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
});

describe('embedded runtime', () => {
  it('creates ./.switchboard on first use with a .gitignore, and serves the RuntimeClient interface', async () => {
    const cwd = tempDir();
    const client = await openEmbedded(undefined, { cwd });
    clients.push(client);
    const dir = path.join(cwd, '.switchboard');
    expect(client.location).toBe('embedded:.switchboard');
    expect(readFileSync(path.join(dir, '.gitignore'), 'utf8')).toMatch(/^\*$/m);
    expect(await client.state()).toEqual({ revision: 0, resources: [] });
    const result = await client.apply(changeSet(0, creates(quickstart())));
    expect(result).toMatchObject({ ok: true, revision: 1 });
    expect((await client.state({ company: 'acme' })).resources.length).toBeGreaterThan(5);
    expect(await client.fingerprint(['a'])).toHaveLength(1);
    expect((await client.audit({ limit: 5 }))[0]).toMatchObject({ revision: 1, actor: 'local', via: 'plan' });
    expect((await client.status()).engines.map((e) => e.state)).toEqual(['stopped', 'stopped', 'stopped', 'stopped']);
    const link = (await client.state()).resources.find((r) => r.kind === 'PbxLink')!;
    expect(await client.impact([{ action: 'update', kind: 'PbxLink', id: link.id, body: { ...link.body, port: 3212 } }])).toEqual([
      { index: 0, facts: [expect.objectContaining({ type: 'restart', extensionsInterrupted: 5 })] },
    ]);
    // Never committed: git sees nothing of the data directory.
    expect(spawnSync('git', ['init', '-q'], { cwd }).status).toBe(0);
    expect(spawnSync('git', ['status', '--porcelain', '--untracked-files=all'], { cwd, encoding: 'utf8' }).stdout).toBe('');
    const all = JSON.stringify([await client.state(), await client.audit(), await client.status()]);
    for (const s of SECRETS) expect(all).not.toContain(s);
  });

  it('reopens the same directory with the same state and fingerprints', async () => {
    const cwd = tempDir();
    const a = await openEmbedded('data', { cwd });
    await a.apply(changeSet(0, creates(quickstart())));
    const fp = await a.fingerprint(['x']);
    await a.close();
    const b = await openEmbedded('data', { cwd });
    clients.push(b);
    expect((await b.state()).revision).toBe(1);
    expect(await b.fingerprint(['x'])).toEqual(fp);
  });
});

describe('serve lock', () => {
  it('refuses a second holder while the first PID is alive, naming it', async () => {
    const dir = tempDir();
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      writeFileSync(path.join(dir, 'serve.lock'), `${sleeper.pid}\n`);
      expect(() => acquireServeLock(dir)).toThrow(ServeLockError);
      expect(() => acquireServeLock(dir)).toThrow(new RegExp(`another switchboard serve \\(PID ${sleeper.pid}\\) is running on ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    } finally {
      sleeper.kill();
    }
  });

  it('takes over a stale lock left by a dead process, and releases it', () => {
    const dir = tempDir();
    const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid;
    writeFileSync(path.join(dir, 'serve.lock'), `${dead}\n`);
    const lock = acquireServeLock(dir);
    expect(readFileSync(lock.file, 'utf8').trim()).toBe(String(process.pid));
    expect(() => acquireServeLock(dir)).toThrow(/PID \d+/); // held by this (live) process
    lock.release();
    expect(existsSync(lock.file)).toBe(false);
    acquireServeLock(dir).release();
  });
});
