/**
 * The licence screen (manual §3.3.2) against a real server on loopback: `GET /v1/licences`,
 * the HTTP client, and the compiled `switchboard status licences` over --runtime and on the
 * embedded data directory. `used` is the count the runtime refuses change sets by.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kindInfo } from '../../src/model/kinds.js';
import type { LicenceStatus } from '../../src/model/licences.js';
import { connectRuntime } from '../../src/runtime/http-client.js';
import type { Change } from '../../src/runtime/types.js';
import { call, seed, startServer, type TestServer } from './helpers.js';

const BIN = path.resolve('bin/switchboard.js');
let s: TestServer;
let tokens: { alice: string; bob: string; root: string };

function create(kind: Change['kind'], body: Record<string, unknown>): Change {
  return { action: 'create', kind, id: kindInfo(kind).id(body)!, body };
}

function apply(changes: Change[]) {
  return s.runtime.apply({ baseRevision: s.runtime.revision(), changes, origin: { via: 'plan', actor: 'test' } });
}

const grant = (domain: string, application: string, grantee: Record<string, string>) => create('Authorization', { domain, object: { application }, grantee });

beforeAll(async () => {
  s = await startServer();
  tokens = seed(s);
  const r = apply([
    create('User', { domain: 'acme/paris', username: 'ann' }),
    create('User', { domain: 'acme/paris', username: 'max' }),
    create('License', { company: 'acme', application: 'Caller', available: 3 }),
    create('License', { company: 'acme', application: 'Alerter', available: 2 }),
    create('License', { company: 'globex', application: 'Caller', available: 5 }),
    create('Group', { domain: 'acme/paris', name: 'All', members: ['jdoe', 'ann'] }),
    // jdoe is authorized twice (through All and directly): one licence.
    grant('acme/paris', 'Caller', { group: 'All' }),
    grant('acme/paris', 'Caller', { user: 'jdoe' }),
    grant('globex/berlin', 'Caller', { user: 'hans' }),
  ]);
  if (!r.ok) throw new Error(`${r.message}\n${JSON.stringify(r.problems, null, 2)}`);
});
afterAll(async () => {
  await s?.close();
});

const ACME: LicenceStatus[] = [
  { company: 'acme', application: 'Alerter', available: 2, used: 0, free: 2 },
  { company: 'acme', application: 'Caller', available: 3, used: 2, free: 1 },
];
const GLOBEX: LicenceStatus[] = [{ company: 'globex', application: 'Caller', available: 5, used: 1, free: 4 }];

describe('GET /v1/licences', () => {
  it('a super user sees every company, one row per application, users counted once through groups', async () => {
    for (const token of [tokens.root, s.adminToken]) {
      const r = await call(s.url, 'GET', '/v1/licences', { token });
      expect(r.status).toBe(200);
      expect(r.body).toEqual([...ACME, ...GLOBEX]);
    }
    expect((await call(s.url, 'GET', '/v1/licences?company=globex', { token: tokens.root })).body).toEqual(GLOBEX);
  });

  it('a company admin sees only their companies; ?company= of another company is 403', async () => {
    expect((await call(s.url, 'GET', '/v1/licences', { token: tokens.alice })).body).toEqual(ACME);
    expect((await call(s.url, 'GET', '/v1/licences?company=acme', { token: tokens.alice })).body).toEqual(ACME);
    expect((await call(s.url, 'GET', '/v1/licences', { token: tokens.bob })).body).toEqual(GLOBEX);
    const other = await call(s.url, 'GET', '/v1/licences?company=globex', { token: tokens.alice });
    expect(other.status).toBe(403);
    expect(other.text).not.toContain('"used"');
    expect((await call(s.url, 'GET', '/v1/licences', {})).status).toBe(401);
  });

  it('"free" is what the runtime still accepts: one user more than free is refused, exactly free is not', async () => {
    const refused = apply([grant('acme/paris', 'Caller', { user: 'max' }), grant('acme/paris', 'Caller', { user: 'acme/paris/ann' }), create('User', { domain: 'acme/paris', username: 'zoe' }), grant('acme/paris', 'Caller', { user: 'zoe' })]);
    expect(refused.ok).toBe(false);
    expect(JSON.stringify(refused)).toContain('license-exceeded');
    expect((await call(s.url, 'GET', '/v1/licences?company=acme', { token: tokens.alice })).body).toEqual(ACME);
    const accepted = apply([grant('acme/paris', 'Caller', { user: 'max' })]);
    expect(accepted.ok).toBe(true);
    expect((await call(s.url, 'GET', '/v1/licences?company=acme', { token: tokens.alice })).body).toContainEqual({ company: 'acme', application: 'Caller', available: 3, used: 3, free: 0 });
    const more = apply([create('User', { domain: 'acme/paris', username: 'zoe' }), grant('acme/paris', 'Caller', { user: 'zoe' })]);
    expect(more.ok).toBe(false);
    // Put it back for the other tests.
    const back = apply([{ action: 'delete', kind: 'Authorization', id: kindInfo('Authorization').id({ domain: 'acme/paris', object: { application: 'Caller' }, grantee: { user: 'max' } })! }]);
    expect(back.ok).toBe(true);
  });

  it('the HTTP client reads it, with and without a company', async () => {
    const client = await connectRuntime(s.url, tokens.alice);
    try {
      expect(await client.licences()).toEqual(ACME);
      expect(await client.licences({ company: 'acme' })).toEqual(ACME);
      await expect(client.licences({ company: 'globex' })).rejects.toThrow(/403|forbidden|globex/);
    } finally {
      await client.close();
    }
  });
});

describe('switchboard status licences (compiled CLI)', () => {
  const run = async (args: string[], env: Record<string, string> = {}) => {
    try {
      const r = await promisify(execFile)(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
      return { status: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { status: err.code, stdout: err.stdout, stderr: err.stderr };
    }
  };

  it('--runtime URL: the token’s companies, as JSON or as the manual’s table', async () => {
    const json = await run(['status', 'licences', '--runtime', s.url, '--format', 'json'], { SWITCHBOARD_TOKEN: tokens.alice });
    expect(json.stderr).toBe('');
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(ACME);
    const text = await run(['status', 'licences', '--runtime', s.url], { SWITCHBOARD_TOKEN: tokens.bob });
    expect(text.status).toBe(0);
    expect(text.stdout).toBe(['COMPANY  APPLICATION  AVAILABLE  USED  FREE', 'globex   Caller               5     1     4', ''].join('\n'));
    const forbidden = await run(['status', 'licences', '--runtime', s.url, '--company', 'globex'], { SWITCHBOARD_TOKEN: tokens.alice });
    expect(forbidden.status).toBe(1);
    expect(forbidden.stderr).toContain('globex');
  });

  it('--data-dir: the embedded runtime on the same store shows every company', async () => {
    const r = await run(['status', 'licences', '--data-dir', s.dataDir, '--format', 'json']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([...ACME, ...GLOBEX]);
    const one = await run(['status', 'licences', '--data-dir', s.dataDir, '--company', 'acme']);
    expect(one.stdout.split('\n')[0]).toBe('COMPANY  APPLICATION  AVAILABLE  USED  FREE');
    expect(one.stdout).toContain('acme     Caller               3     2     1');
    expect(one.stdout).not.toContain('globex');
  });
});
