/**
 * Shared by the docs-promises tests: each file there takes one page of docs/ (or README.md)
 * and proves, with real components, what the page promises. Here: the compiled CLI run as a
 * user runs it, and a copy of examples/quickstart in a fresh working directory.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const BIN = path.resolve('bin/switchboard.js');

/** The secrets examples/quickstart references; tests grep outputs for them. */
export const QUICK_ENV = { CSTA_PASSWORD: 'csta-Pa55-docs-promises', SWITCHBOARD_ADMIN_PASSWORD: 'admin-Pa55-docs-promises' };

export interface Ran {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `switchboard ARGS` (compiled), in `cwd`, with only PATH and `env` in its environment. */
export function sb(args: readonly string[], options: { cwd: string; env?: Record<string, string> }): Ran {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: options.cwd, env: { PATH: process.env.PATH, ...options.env }, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same, without blocking the test's event loop (for commands that talk to a server in this process). */
export function sbAsync(args: readonly string[], options: { cwd: string; env?: Record<string, string> }): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: { PATH: process.env.PATH, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

export function tempWorkDir(prefix = 'switchboard-docs-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** A working directory holding examples/quickstart as `config/`. */
export function quickstartWorkDir(): string {
  const dir = tempWorkDir();
  cpSync('examples/quickstart', path.join(dir, 'config'), { recursive: true });
  return dir;
}

/** `apiVersion`/`kind` header of a document. */
export const doc = (kind: string) => `apiVersion: switchboard/v1\nkind: ${kind}\n`;

/** A list document of quickstart-style users (CSTA extensions from `first`). */
export function users(names: readonly string[], first = 2001, extra = ''): string {
  return `${doc('User')}domain: acme/paris\nitems:\n${names
    .map((n, i) => `  - username: ${n}\n    firstName: ${n}\n    email: ${n}@example.com\n    devices:\n      - number: "${first + i}"\n        protocol: CSTA\n${extra}`)
    .join('')}`;
}

/** A loopback port nothing listens on (taken from the kernel, then released). */
export function closedPort(): number {
  const r = spawnSync(process.execPath, ['-e', "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"], { encoding: 'utf8' });
  return Number(r.stdout.trim());
}
