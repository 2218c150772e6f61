/** Shared helpers of the runtime tests: real SQLite files in temp dirs, real child processes. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { processSecretSource } from '../../src/config/secrets.js';
import type { KindName } from '../../src/model/kinds.js';
import type { Resource } from '../../src/model/resource.js';
import { Runtime, type RuntimeLog, type RuntimeOptions } from '../../src/runtime/runtime.js';
import type { Change, ChangeSet, ChangeVia } from '../../src/runtime/types.js';
import { validateConfig } from '../../src/validate/validate.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));

/** Secret values of the quickstart example: tests grep every output for them. */
export const CSTA_PASSWORD = 'csta-Pa55word-never-shown';
export const ADMIN_PASSWORD = 'admin-Pa55word-never-shown';
export const SECRETS = [CSTA_PASSWORD, ADMIN_PASSWORD];

export function tempDir(prefix = 'switchboard-rt-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** The desired state of a configuration directory, secrets resolved from `env`. */
export function desired(dir: string, env: Record<string, string>): Resource[] {
  const r = validateConfig(dir, { secrets: processSecretSource(env, dir) });
  if (!r.ok) throw new Error(`fixture invalid: ${r.diagnostics.map((d) => `${d.file}:${d.line} ${d.message}`).join('\n')}`);
  return [...r.state.resources];
}

/** examples/quickstart: company acme, domain paris, a CSTA link, five users, a group, licences, an admin. */
export function quickstart(): Resource[] {
  return desired(path.join(ROOT, 'examples/quickstart'), { CSTA_PASSWORD, SWITCHBOARD_ADMIN_PASSWORD: ADMIN_PASSWORD });
}

export function creates(resources: readonly { kind: KindName; id: string; body: Readonly<Record<string, unknown>> }[]): Change[] {
  return resources.map((r) => ({ action: 'create', kind: r.kind, id: r.id, body: r.body }));
}

export function changeSet(baseRevision: number, changes: readonly Change[], via: ChangeVia = 'plan', actor?: string): ChangeSet {
  return { baseRevision, changes, origin: { via, ...(actor ? { actor } : {}) } };
}

export function find<T extends { kind: string; id: string }>(list: readonly T[], kind: KindName, id: string): T {
  const r = list.find((x) => x.kind === kind && x.id === id);
  if (!r) throw new Error(`no ${kind} ${id}`);
  return r;
}

/** A log that records every line (to grep them for secrets). */
export function recordingLog(): RuntimeLog & { lines: string[] } {
  const lines: string[] = [];
  const rec = (level: string) => (fields: Record<string, unknown>, msg: string) => void lines.push(JSON.stringify({ level, msg, ...fields }));
  return { lines, debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error') };
}

export async function open(dir: string, options: RuntimeOptions = {}): Promise<Runtime> {
  return Runtime.open(dir, { pollIntervalMs: 50, ...options });
}

/** Bodies of a company with one domain and `n` users (u00000 …) with CSTA extensions 10000 + i. */
export function bulkUsers(company: string, n: number, prefix = 'u', firstExtension = 10000): Change[] {
  const domain = `${company}/site`;
  const out: Change[] = [];
  for (let i = 0; i < n; i++) {
    const username = `${prefix}${String(i).padStart(5, '0')}`;
    out.push({
      action: 'create',
      kind: 'User',
      id: `${domain}/${username}`,
      body: { domain, username, firstName: `First${i}`, lastName: `Last${i}`, devices: [{ number: String(firstExtension + i), protocol: 'CSTA' }] },
    });
  }
  return out;
}

export function companyAndDomain(company: string): Change[] {
  return [
    { action: 'create', kind: 'Company', id: company, body: { name: company } },
    { action: 'create', kind: 'Domain', id: `${company}/site`, body: { company, name: 'site', internalLength: 5 } },
  ];
}

export function writeJson(dir: string, name: string, value: unknown): string {
  const p = path.join(dir, name);
  writeFileSync(p, JSON.stringify(value));
  return p;
}

/** A child process running test/runtime/child.ts, with its stdout split into lines. */
export interface Child {
  readonly proc: ChildProcess;
  /** Resolves with the first line matching `test` (or rejects when the child exits first). */
  line(test: (line: string) => boolean): Promise<string>;
  send(line: string): void;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  lines: string[];
}

export function child(args: readonly string[]): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: { test: (l: string) => boolean; resolve: (l: string) => void; reject: (e: Error) => void }[] = [];
  let buf = '';
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => void (stderr += d.toString()));
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      lines.push(l);
      for (const w of [...waiters]) {
        if (w.test(l)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(l);
        }
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => {
      for (const w of waiters.splice(0)) w.reject(new Error(`child exited (${code ?? signal}) before the expected line; stderr: ${stderr.slice(0, 2000)}`));
      resolve({ code, signal });
    }),
  );
  return {
    proc,
    lines,
    exited,
    send: (l) => void proc.stdin!.write(`${l}\n`),
    line: (test) =>
      new Promise((resolve, reject) => {
        const hit = lines.find(test);
        if (hit !== undefined) return resolve(hit);
        if (proc.exitCode !== null || proc.signalCode !== null) return reject(new Error(`child already exited; stderr: ${stderr.slice(0, 2000)}`));
        waiters.push({ test, resolve, reject });
      }),
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until `f` returns a truthy value (or time out). */
export async function until<T>(f: () => T | undefined | false, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
