/** `switchboard sync run` through the compiled CLI, against a real slapd and a data directory. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeSet, creates, open, quickstart, tempDir } from '../runtime/helpers.js';
import { ADMIN_DN, ADMIN_PASSWORD, destroySlapd, hasSlapd, PEOPLE, person, startSlapd, type Slapd } from './slapd.js';

const BIN = path.resolve('bin/switchboard.js');
const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH } });

describe.skipIf(!hasSlapd())('switchboard sync run', () => {
  let slapd: Slapd;
  beforeAll(async () => {
    slapd = await startSlapd(Array.from({ length: 5 }, (_, i) => person(i)));
  });
  afterAll(async () => destroySlapd(slapd));

  it('--dry-run lists the changes and writes nothing; a run applies; a re-run writes nothing; the password never shows', async () => {
    const dir = tempDir();
    const rt = await open(dir, { startEngines: false });
    const body = {
      domain: 'acme/paris',
      name: 'ad',
      source: 'activeDirectory',
      connection: { host: slapd.host, port: slapd.port, login: ADMIN_DN, password: ADMIN_PASSWORD, baseDn: PEOPLE, filter: 'objectClass=inetOrgPerson' },
    };
    expect(rt.apply(changeSet(0, [...creates(quickstart()), { action: 'create', kind: 'UserImport', id: 'acme/paris/ad', body }]))).toMatchObject({ ok: true });
    await rt.close();

    const dry = run(['sync', 'run', 'ad', '--dry-run', '--data-dir', dir]);
    expect(dry.stderr).toBe('');
    expect(dry.status).toBe(0);
    expect(dry.stdout).toContain('user import acme/paris/ad: dry run, nothing written');
    expect(dry.stdout).toContain('+ User acme/paris/user00004');
    const applied = run(['sync', 'run', 'acme/paris/ad', '--data-dir', dir]);
    expect(applied.stdout).toMatch(/applied at revision 2\n[\s\S]*5 created, 0 updated, 0 disabled, 0 deleted, 0 ignored, 0 errors/);
    const again = run(['sync', 'run', 'ad', '--data-dir', dir, '--format', 'json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ outcome: 'unchanged', counts: { unchanged: 5 } });
    for (const r of [dry, applied, again]) expect(r.stdout + r.stderr).not.toContain(ADMIN_PASSWORD);
    const status = run(['status', '--data-dir', dir]);
    expect(status.status).toBe(0);
    expect(status.stdout).toMatch(/engines:\n  pbx-links: stopped[\s\S]*  user-import: stopped/);
    expect(status.stdout).toMatch(/  acme\/paris\/ad \(manual\): last run unchanged \S+ → \S+: 0 created, 0 updated, 0 disabled, 0 deleted, 0 ignored, 0 errors/);
    const json = JSON.parse(run(['status', '--data-dir', dir, '--format', 'json']).stdout) as { imports: { lastRun: { outcome: string } }[] };
    expect(json.imports[0]!.lastRun.outcome).toBe('unchanged');
    expect(status.stdout).not.toContain(ADMIN_PASSWORD);
    const missing = run(['sync', 'run', 'nope', '--data-dir', dir]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/no user import or directory 'nope'/);
  });
});
