/**
 * Scenario harness: the CLI (in-process `main`) against a real runtime, either embedded
 * (./.switchboard in a temp working directory) or a real `serve` HTTP server on loopback
 * (its RuntimeCore, token store and fastify app, on a free port). Out-of-band edits go
 * through what an administrator would use: the HTTP API, or for the embedded runtime the
 * same runtime call the API makes (via: 'api').
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { main } from '../../src/cli/main.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { createApiServer, type ApiServer } from '../../src/server/app.js';
import { TokenStore } from '../../src/server/tokens.js';
import type { Change, LiveResource, Manager } from '../../src/runtime/types.js';
import type { KindName } from '../../src/model/kinds.js';

export type Mode = 'embedded' | 'http';

export interface RunResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

export class Harness {
  readonly dir: string;
  readonly dataDir: string;
  private runtime?: Runtime;
  private server?: ApiServer;
  url?: string;
  token?: string;
  tokens?: TokenStore;
  env: Record<string, string>;

  private constructor(readonly mode: Mode, env: Record<string, string>) {
    this.dir = mkdtempSync(path.join(tmpdir(), `switchboard-scenario-${mode}-`));
    this.dataDir = path.join(this.dir, '.switchboard');
    this.env = { NO_COLOR: '1', ...env };
  }

  static async start(mode: Mode, env: Record<string, string> = {}): Promise<Harness> {
    const h = new Harness(mode, env);
    mkdirSync(h.dataDir, { recursive: true });
    h.runtime = await Runtime.open(h.dataDir);
    if (mode === 'http') {
      h.tokens = new TokenStore(h.runtime.store.db);
      h.token = h.tokens.ensureAdminToken(h.dataDir).token;
      h.server = await createApiServer({ runtime: h.runtime, tokens: h.tokens, logger: pino({ level: 'silent' }) });
      h.url = await h.server.listen('127.0.0.1', 0);
    }
    return h;
  }

  /** Copy a configuration tree into <dir>/config. */
  useConfig(from: string): void {
    cpSync(from, path.join(this.dir, 'config'), { recursive: true });
  }

  write(rel: string, text: string): void {
    const p = path.join(this.dir, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, text);
  }

  read(rel: string): string {
    return readFileSync(path.join(this.dir, rel), 'utf8');
  }

  edit(rel: string, f: (text: string) => string): void {
    this.write(rel, f(this.read(rel)));
  }

  /** Run the CLI in the working directory, against this harness's runtime. */
  async cli(args: string[], options: { token?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
    const stdout = new Capture();
    const stderr = new Capture();
    const env: Record<string, string> = { ...this.env, ...options.env };
    if (this.mode === 'http') {
      env.SWITCHBOARD_RUNTIME = this.url!;
      env.SWITCHBOARD_TOKEN = options.token ?? this.token!;
    }
    const status = await main(args, { stdout: stdout as unknown as NodeJS.WriteStream, stderr: stderr as unknown as NodeJS.WriteStream, env, cwd: this.dir });
    return { status, stdout: stdout.text, stderr: stderr.text };
  }

  live(kind: KindName, id: string): LiveResource | undefined {
    return this.runtime!.get(kind, id);
  }

  revision(): number {
    return this.runtime!.revision();
  }

  /** An administrator's edit of one resource, out of band (through the HTTP API when serving). */
  async apiUpdate(kind: KindName, id: string, mutate: (body: Record<string, unknown>) => Record<string, unknown>, actor = 'alice'): Promise<void> {
    const current = this.runtime!.get(kind, id);
    if (!current) throw new Error(`${kind} ${id} is not live`);
    const body = mutate(structuredClone(current.body) as Record<string, unknown>);
    if (this.mode === 'http') {
      const r = await fetch(`${this.url}/v1/resources/${kind}/${encodeURIComponent(id)}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!r.ok) throw new Error(`PUT ${kind} ${id}: ${r.status} ${await r.text()}`);
      return;
    }
    const result = this.runtime!.apply({ baseRevision: this.runtime!.revision(), changes: [{ action: 'update', kind, id, body }], origin: { via: 'api', actor } });
    if (!result.ok) throw new Error(`api update refused: ${result.message}`);
  }

  /** What a sync engine does: create resources it manages. */
  syncCreate(manager: Manager, changes: Omit<Extract<Change, { action: 'create' }>, 'action' | 'manager'>[]): void {
    const result = this.runtime!.apply({
      baseRevision: this.runtime!.revision(),
      changes: changes.map((c) => ({ action: 'create' as const, ...c, manager })),
      origin: { via: 'sync', actor: manager },
    });
    if (!result.ok) throw new Error(`sync refused: ${result.message} ${JSON.stringify(result.problems)}`);
  }

  async close(): Promise<void> {
    await this.server?.close();
    await this.runtime?.close();
  }
}
