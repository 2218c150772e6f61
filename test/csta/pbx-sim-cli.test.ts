/** `npm run pbx-sim` as a real process: a link connects to it, and its stdin commands drive the switch. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CstaLink } from '../../src/csta/link.js';
import { cleanups } from './helpers.js';

const SCRIPT = path.resolve('scripts/pbx-sim.ts');
const cleanup = cleanups();

function start(args: string[]): { child: ChildProcess; out: () => string; err: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH } });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  cleanup.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, out: () => out, err: () => err, exited };
}

async function until(check: () => boolean, what: string, detail: () => string): Promise<void> {
  const end = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${detail()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('npm run pbx-sim', () => {
  it('serves a link, takes call/drop/status/quit on stdin, answers a bad command with an error', async () => {
    const sim = start(['--devices', '1001-1002', '--user', 'tws', '--password', 'pw']);
    const detail = () => `stdout:\n${sim.out()}\nstderr:\n${sim.err()}`;
    await until(() => /listening on 127\.0\.0\.1:\d+/.test(sim.out()), 'the listening line', detail);
    expect(sim.out()).toMatch(/ECMA-354 login required/);
    const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(sim.out())![1]);

    const link = new CstaLink({ host: '127.0.0.1', port, user: 'tws', password: 'pw', backoff: { initialMs: 50, maxMs: 200 } });
    cleanup.push(() => link.stop());
    link.setExtensions(['1001', '1002']);
    link.start();
    const state = (n: string) => new Map(link.extensions()).get(n)?.callState;
    await until(() => link.status().current === 2 && state('1002') === 'idle', 'two extensions supervised', detail);

    sim.child.stdin!.write('call 1001 1002\n');
    await until(() => state('1002') === 'ringing', '1002 ringing', detail);
    const callId = /call (\S+): 1001 → 1002/.exec(sim.out())![1]!;
    sim.child.stdin!.write(`hangup ${callId}\n`);
    await until(() => state('1002') === 'idle', '1002 idle', detail);

    sim.child.stdin!.write('answer nosuchcall\n');
    await until(() => /error: /.test(sim.err()), 'the error line', detail);

    sim.child.stdin!.write('drop\n');
    await until(() => link.status().connects === 2 && link.status().current === 2, 'the link back after drop', detail);

    sim.child.stdin!.write('status\nquit\n');
    expect(await sim.exited).toBe(0);
    expect(sim.out()).toMatch(/2 device\(s\) monitored/);
  });

  it('refuses bad options with a usage error', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', SCRIPT, '--user', 'only'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--user and --password go together/);
  });
});
