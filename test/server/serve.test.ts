/**
 * `switchboard serve` as a real child process: start, admin.token, the serve lock, graceful
 * SIGTERM (with a change set in flight), restart from the store, `token create`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { PbxSimulator, type SimulatorEvent } from '../../src/csta/simulator.js';
import { call, SECRETS, tempDataDir } from './helpers.js';

const ENTRY = path.resolve('test/server/cli-entry.ts');
const children = new Set<ChildProcess>();

afterEach(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
});

interface Served {
  readonly child: ChildProcess;
  readonly url: string;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
}

function spawnCli(args: string[]): { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Start `serve` on a free port and wait for its "serving" log line. */
async function startServe(dataDir: string, extraArgs: string[] = []): Promise<Served> {
  const p = spawnCli(['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', ...extraArgs]);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const line = logLines(p.stdout()).find((l) => l.msg === 'serving');
    if (line) return { ...p, url: String(line.url) };
    if (p.child.exitCode !== null) throw new Error(`serve exited ${p.child.exitCode}: ${p.stderr()}${p.stdout()}`);
    if (Date.now() > deadline) throw new Error(`serve did not start: ${p.stderr()}${p.stdout()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function logLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const CONFIG = [
  { action: 'create', kind: 'Company', id: 'acme', body: { name: 'acme' } },
  { action: 'create', kind: 'Domain', id: 'acme/paris', body: { company: 'acme', name: 'paris', internalLength: 4 } },
  {
    action: 'create',
    kind: 'PbxLink',
    id: 'acme/paris/pbx',
    body: { domain: 'acme/paris', name: 'pbx', protocol: 'csta', ip: '192.0.2.10', port: 3211, pbxType: 'A5000', username: 'tws', password: SECRETS.link },
  },
  { action: 'create', kind: 'User', id: 'acme/paris/jdoe', body: { domain: 'acme/paris', username: 'jdoe', password: SECRETS.jdoe, devices: [{ number: '1001', protocol: 'CSTA', link: 'pbx' }] } },
  { action: 'create', kind: 'AdminAccount', id: 'alice', body: { username: 'alice', password: SECRETS.alice, companies: ['acme'] } },
];

describe('switchboard serve (child process)', () => {
  it('starts, writes admin.token 0600, refuses a second serve, stops on SIGTERM, restarts from the store', async () => {
    const dataDir = tempDataDir();
    const first = await startServe(dataDir);

    // admin.token: 0600 in a 0700 directory, its path logged, the token itself never.
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    const tokenFile = path.join(dataDir, 'admin.token');
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const token = readFileSync(tokenFile, 'utf8').trim();
    expect(token).toMatch(/^sbt_/);
    const tokenLine = logLines(first.stdout()).find((l) => l.file === tokenFile);
    expect(tokenLine?.msg).toMatch(/wrote a new super-admin token/);
    expect(first.stdout()).not.toContain(token);

    expect((await call(first.url, 'GET', '/healthz')).status).toBe(200);
    expect((await call(first.url, 'GET', '/readyz')).status).toBe(200);
    const applied = await call(first.url, 'POST', '/v1/changesets', { token, body: { baseRevision: 0, changes: CONFIG, origin: { via: 'plan' } } });
    expect(applied.status, applied.text).toBe(200);
    const stateBefore = await call(first.url, 'GET', '/v1/state', { token });
    const statusBefore = await call(first.url, 'GET', '/v1/status', { token });
    expect(statusBefore.body.engines.length).toBeGreaterThan(0);

    // A second serve on the same data directory is refused, clearly, and leaves the first alone.
    const second = spawnCli(['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0']);
    expect(await second.exited).toBe(1);
    expect(second.stderr()).toMatch(/another switchboard serve \(PID \d+\) is running on/);
    expect((await call(first.url, 'GET', '/healthz')).status).toBe(200);

    // SIGTERM: exit 0, engines stopped, store closed, lock released.
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const msgs = logLines(first.stdout()).map((l) => l.msg);
    expect(msgs).toContain('shutting down: finishing requests in flight');
    expect(msgs.at(-1)).toBe('stopped');
    expect(existsSync(path.join(dataDir, 'serve.lock'))).toBe(false);
    expect(first.stderr()).toBe('');

    // Restart: the same token, the same state, the engines back with the same status.
    const again = await startServe(dataDir);
    expect(logLines(again.stdout()).find((l) => l.file === tokenFile)?.msg).toMatch(/kept/);
    const stateAfter = await call(again.url, 'GET', '/v1/state', { token });
    expect(stateAfter.status).toBe(200);
    expect(stateAfter.body).toEqual(stateBefore.body);
    const statusAfter = await call(again.url, 'GET', '/v1/status', { token });
    // Engine details hold live facts (connection attempts, times): compare what the store restores.
    const stable = (e: { name: string; state: string; details?: { links?: { id: string; wanted: number; total?: number }[] } }) => [e.name, e.state, e.details?.links?.map((l) => [l.id, l.wanted, l.total])];
    expect(statusAfter.body.engines.map(stable)).toEqual(statusBefore.body.engines.map(stable));
    expect(JSON.stringify(statusAfter.body)).toContain('acme/paris/pbx');

    // token create, locally, beside the running server.
    const created = spawnSync(process.execPath, ['--import', 'tsx', ENTRY, 'token', 'create', 'alice', '--data-dir', dataDir], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(created.status, created.stderr).toBe(0);
    const aliceToken = created.stdout.trim();
    expect(aliceToken).toMatch(/^sbt_/);
    expect(created.stderr).toMatch(/shown only this once/);
    expect((await call(again.url, 'GET', '/v1/state?company=acme', { token: aliceToken })).status).toBe(200);
    const unknown = spawnSync(process.execPath, ['--import', 'tsx', ENTRY, 'token', 'create', 'nobody', '--data-dir', dataDir], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/no AdminAccount 'nobody'/);

    again.child.kill('SIGINT');
    expect(await again.exited).toBe(0);
  });

  it('finishes the change set in flight before stopping on SIGTERM', async () => {
    const dataDir = tempDataDir();
    const served = await startServe(dataDir);
    const token = readFileSync(path.join(dataDir, 'admin.token'), 'utf8').trim();
    const users = Array.from({ length: 2000 }, (_, i) => ({ action: 'create', kind: 'User', id: `acme/paris/u${i}`, body: { domain: 'acme/paris', username: `u${i}` } }));
    const body = JSON.stringify({ baseRevision: 0, changes: [...CONFIG.slice(0, 2), ...users], origin: { via: 'plan' } });
    const half = Math.floor(body.length / 2);
    const { port, hostname } = new URL(served.url);

    // Send the headers and half the body, then SIGTERM, then the rest: the request is in flight.
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request({ host: hostname, port, method: 'POST', path: '/v1/changesets', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.write(body.slice(0, half));
      // Once the server has the first half, SIGTERM; once it says it is shutting down, the rest.
      setTimeout(() => {
        served.child.kill('SIGTERM');
        const poll = setInterval(() => {
          if (!served.stdout().includes('shutting down')) return;
          clearInterval(poll);
          req.end(body.slice(half));
        }, 20);
      }, 300);
    });
    const r = await response;
    expect(r.status, r.text).toBe(200);
    expect(JSON.parse(r.text)).toMatchObject({ ok: true, revision: 1, applied: 2002 });
    expect(await served.exited).toBe(0);
    const msgs = logLines(served.stdout()).map((l) => l.msg);
    expect(msgs.indexOf('shutting down: finishing requests in flight')).toBeGreaterThanOrEqual(0);
    expect(msgs.indexOf('shutting down: finishing requests in flight')).toBeLessThan(msgs.indexOf('change set applied'));
    expect(msgs.at(-1)).toBe('stopped');

    // What was acknowledged is in the store.
    const again = await startServe(dataDir);
    const state = await call(again.url, 'GET', '/v1/state?company=acme', { token });
    expect(state.body.revision).toBe(1);
    expect(state.body.resources.filter((x: { kind: string }) => x.kind === 'User')).toHaveLength(2000);
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
  });

  it('supervises a CSTA link in the serving process, survives garbage from the switch, ends the session on SIGTERM', async () => {
    const events: SimulatorEvent[] = [];
    const sim = await PbxSimulator.start({ credentials: { user: 'tws', password: SECRETS.link }, onEvent: (e) => events.push(e) });
    try {
      const dataDir = tempDataDir();
      const served = await startServe(dataDir);
      const token = readFileSync(path.join(dataDir, 'admin.token'), 'utf8').trim();
      const changes = CONFIG.map((c) => (c.kind === 'PbxLink' ? { ...c, body: { ...c.body, ip: '127.0.0.1', port: sim.port } } : c));
      const applied = await call(served.url, 'POST', '/v1/changesets', { token, body: { baseRevision: 0, changes, origin: { via: 'plan' } } });
      expect(applied.status, applied.text).toBe(200);
      const link = async () => ((await call(served.url, 'GET', '/v1/links', { token })).body as { connected: boolean; current: number; connects: number }[])[0];
      const until = async (check: (l: { connected: boolean; current: number; connects: number }) => boolean, what: string) => {
        const end = Date.now() + 15_000;
        for (;;) {
          const l = await link();
          if (l && check(l)) return;
          if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(l)}\n${served.stdout()}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      await until((l) => l.connected && l.current === 1, 'the link up with jdoe supervised');
      expect(sim.monitored().has('1001')).toBe(true);

      sim.sendRaw(Buffer.from('\x00\x00\xff\xff9999<DeliveredEvent>truncated', 'latin1'));
      sim.drop();
      await until((l) => l.connects >= 2 && l.connected && l.current === 1, 'reconnected and re-monitored');
      expect(served.child.exitCode).toBeNull();
      expect(logLines(served.stdout()).some((l) => l.msg === 'CSTA link down' && l.link === 'acme/paris/pbx')).toBe(true);
      expect(served.stdout()).not.toContain(SECRETS.link);

      served.child.kill('SIGTERM');
      expect(await served.exited).toBe(0);
      expect(events.some((e) => e.type === 'session-ended' && e.reason === 'stopped')).toBe(true);
      await new Promise((r) => setTimeout(r, 50));
      expect(sim.connections).toBe(0);
    } finally {
      await sim.close();
    }
  });

  it('refuses a bad --listen or --rate-limit as a usage error', async () => {
    const p = spawnCli(['serve', '--data-dir', tempDataDir(), '--listen', 'localhost']);
    expect(await p.exited).toBe(2);
    expect(p.stderr()).toMatch(/--listen must be HOST:PORT/);
    const r = spawnCli(['serve', '--data-dir', tempDataDir(), '--listen', '127.0.0.1:0', '--rate-limit', 'per-token=lots']);
    expect(await r.exited).toBe(2);
    expect(r.stderr()).toBe("switchboard: --rate-limit per-token must be a whole number from 1 to 1,000,000,000, not 'lots'\n");
  });

  it('serves what the embedded CLI applied to its data directory; --rate-limit sets the limits it logs and enforces; a second signal exits 1 at once', async () => {
    const dataDir = tempDataDir();
    // The embedded runtime of the CLI, on the same directory, before serve runs.
    const { Runtime } = await import('../../src/runtime/runtime.js');
    const embedded = await Runtime.open(dataDir, { startEngines: false });
    expect(embedded.apply({ baseRevision: 0, changes: [...CONFIG.slice(0, 2), CONFIG[4]!] as never, origin: { via: 'plan' } }).ok).toBe(true);
    await embedded.close();

    const served = await startServe(dataDir, ['--rate-limit', 'per-token=4,window=600', '--rate-limit', 'fingerprint-values=3']);
    const serving = logLines(served.stdout()).find((l) => l.msg === 'serving')!;
    expect(serving.rateLimits).toMatchObject({ perToken: 4, windowMs: 600_000, fingerprintValues: 3, perAddress: 6000, authFailures: 30 });
    const token = readFileSync(path.join(dataDir, 'admin.token'), 'utf8').trim();
    const state = await call(served.url, 'GET', '/v1/state', { token });
    expect(state.body.resources.map((r: { id: string }) => r.id).sort()).toEqual(['acme', 'acme/paris', 'alice']);
    const values = await call(served.url, 'POST', '/v1/fingerprints', { token, body: { values: ['a', 'b', 'c', 'd'] } });
    expect(values.status).toBe(429);
    expect(values.body.error.message).toMatch(/over the limit of 3 values to fingerprint per 600 s/);
    expect((await call(served.url, 'GET', '/v1/status', { token })).status).toBe(200);
    expect((await call(served.url, 'GET', '/v1/status', { token })).status).toBe(200);
    const limited = await call(served.url, 'GET', '/v1/status', { token });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(590);
    expect((await call(served.url, 'GET', '/healthz')).status).toBe(200);

    // A request in flight (another token: this one is over its limit) holds the first SIGTERM;
    // the second exits at once.
    const { TokenStore } = await import('../../src/server/tokens.js');
    const store = TokenStore.open(dataDir);
    const alice = store.create('alice').token;
    store.close();
    const { port, hostname } = new URL(served.url);
    const inFlight = http.request({ host: hostname, port, method: 'POST', path: '/v1/fingerprints', headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json', 'content-length': 100 } });
    inFlight.on('error', () => undefined);
    inFlight.write('{"values": [');
    await new Promise((r) => setTimeout(r, 200));
    served.child.kill('SIGTERM');
    for (let i = 0; i < 200 && !served.stdout().includes('shutting down'); i++) await new Promise((r) => setTimeout(r, 25));
    served.child.kill('SIGTERM');
    expect(await served.exited).toBe(1);
    expect(logLines(served.stdout()).some((l) => l.msg === 'second signal: exiting at once')).toBe(true);
  });

  it('documents its defaults: --data-dir .switchboard, --listen 127.0.0.1:7480; token create refuses builtin: names', () => {
    const help = spawnSync(process.execPath, ['--import', 'tsx', ENTRY, 'serve', '--help'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(help.stdout).toMatch(/--data-dir <dir>\s+the runtime data directory \(default: "\.switchboard"\)/);
    expect(help.stdout).toMatch(/--listen <host:port>\s+address to listen on \(default:\s+"127\.0\.0\.1:7480"\)/);
    expect(help.stdout).toMatch(/--rate-limit <name=n>/);
    const dataDir = tempDataDir();
    const builtin = spawnSync(process.execPath, ['--import', 'tsx', ENTRY, 'token', 'create', 'builtin:admin', '--data-dir', dataDir], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(builtin.status).toBe(1);
  });
});
