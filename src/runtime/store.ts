/**
 * The runtime's durable store: one SQLite file (`switchboard.db`) in the data directory,
 * opened with better-sqlite3 in WAL mode so readers never block the single writer and several
 * processes (a `serve`, an embedded CLI) can share it.
 *
 * Tables (docs/runtime.md, "Store"):
 * - `meta`: key/value; `revision` is the live revision, bumped by every committed change set
 *   in the same transaction as its writes.
 * - `resources`: one row per live resource. `body` is the JSON body with every secret replaced
 *   by its fingerprint (`{"$secret":"hmac-sha256:…"}`), so reading the state never touches a
 *   secret; `secrets` holds the encrypted values (`[[path, "v1:…"], …]`, NULL when none).
 * - `audit`: append-only (triggers refuse UPDATE and DELETE), one row per committed change
 *   set; `changes` is the per-resource before/after with secrets redacted, `touched` the flat
 *   list `[action, kind, id, …]` other processes read to refresh their cache cheaply. Both are
 *   JSON text, or zlib-deflated JSON stored as a BLOB when larger than 64 KiB (a 60,000-resource
 *   change set: 12 MB of JSON → 0.5 MB; the audit log would otherwise grow by the whole
 *   configuration at every full apply).
 * - `tokens`: hashed API tokens (the HTTP server's; created here so migrations stay in one list).
 *
 * Schema versions are `PRAGMA user_version`; {@link MIGRATIONS} is the ordered list of steps,
 * each run once, inside an immediate transaction so two processes opening a fresh file
 * together do not both migrate.
 */
import Database from 'better-sqlite3';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { deflateSync, inflateSync } from 'node:zlib';

export const DB_FILE = 'switchboard.db';

/** Ordered schema migrations: index i takes the store from version i to i + 1. Append only. */
export const MIGRATIONS: readonly ((db: Database.Database) => void)[] = [
  (db) => {
    db.exec(`
      CREATE TABLE meta (
        key TEXT PRIMARY KEY NOT NULL,
        value NOT NULL
      );
      INSERT INTO meta (key, value) VALUES ('revision', 0);

      CREATE TABLE resources (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        company TEXT,
        body TEXT NOT NULL,
        secrets TEXT,
        manager TEXT NOT NULL,
        revision INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        updated_by TEXT NOT NULL,
        updated_via TEXT NOT NULL CHECK (updated_via IN ('plan', 'api', 'sync')),
        drifted INTEGER NOT NULL DEFAULT 0 CHECK (drifted IN (0, 1)),
        PRIMARY KEY (kind, id)
      );

      CREATE TABLE audit (
        revision INTEGER PRIMARY KEY NOT NULL,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        via TEXT NOT NULL CHECK (via IN ('plan', 'api', 'sync')),
        plan_digest TEXT,
        git_commit TEXT,
        git_dirty INTEGER,
        summary TEXT,
        changes TEXT NOT NULL,
        touched TEXT NOT NULL
      );
      CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

      CREATE TABLE tokens (
        token_hash TEXT PRIMARY KEY NOT NULL,
        username TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
    `);
  },
];

/** A resource row as stored; `raw()` statements return these columns in this order. */
export type ResourceRow = [
  kind: string,
  id: string,
  company: string | null,
  body: string,
  secrets: string | null,
  manager: string,
  revision: number,
  updatedAt: string,
  updatedBy: string,
  updatedVia: string,
  drifted: number,
];

export interface AuditRow {
  readonly revision: number;
  readonly at: string;
  readonly actor: string;
  readonly via: string;
  readonly plan_digest: string | null;
  readonly git_commit: string | null;
  readonly git_dirty: number | null;
  readonly summary: string | null;
  /** JSON (see {@link jsonOf}). */
  readonly changes: string | Buffer;
}

export interface AuditHead {
  readonly revision: number;
  readonly at: string;
  readonly actor: string;
  readonly via: string;
  /** JSON (see {@link jsonOf}). */
  readonly touched: string | Buffer;
}

/** Payloads above this size are stored deflated. */
export const COMPRESS_ABOVE = 64 * 1024;

/** The changes of one audit entry, as parallel lists (bodies already JSON, secrets redacted). */
export interface AuditInput {
  readonly actions: readonly string[];
  readonly kinds: readonly string[];
  readonly ids: readonly string[];
  readonly before: readonly (string | null)[];
  readonly after: readonly (string | null)[];
}

/** An audit entry's `changes` and `touched` columns, ready to insert. */
export interface EncodedAudit {
  readonly changes: string | Buffer;
  readonly touched: string | Buffer;
}

/*
 * The encoder is JavaScript source so that one text serves both this thread and the worker
 * (which runs it with `eval: true`: no module loader, under tsx, vitest or compiled code alike).
 */
const ENCODE_SOURCE = `
  const n = input.ids.length;
  const parts = new Array(n);
  const touched = new Array(3 * n);
  for (let i = 0; i < n; i++) {
    const action = input.actions[i], kind = input.kinds[i], id = input.ids[i];
    touched[3 * i] = action[0]; touched[3 * i + 1] = kind; touched[3 * i + 2] = id;
    let s = '{"action":"' + action + '","kind":"' + kind + '","id":' + JSON.stringify(id);
    const before = input.before[i], after = input.after[i];
    if (before !== null) s += ',"before":' + before;
    if (after !== null) s += ',"after":' + after;
    parts[i] = s + '}';
  }
  const changes = '[' + parts.join(',') + ']';
  const touchedJson = JSON.stringify(touched);
  const pack = (json) => (json.length > compressAbove ? deflateSync(json, { level: 1 }) : json);
  return { changes: pack(changes), touched: pack(touchedJson) };
`;

/** Encode an audit entry in this thread. */
export const encodeAudit = new Function('input', 'deflateSync', 'compressAbove', ENCODE_SOURCE) as (input: AuditInput, deflate: typeof deflateSync, compressAbove: number) => EncodedAudit;

const WORKER_SOURCE = `
  const { workerData } = require('node:worker_threads');
  const { deflateSync } = require('node:zlib');
  const encode = new Function('input', 'deflateSync', 'compressAbove', ${JSON.stringify(ENCODE_SOURCE)});
  const { port, signal, compressAbove } = workerData;
  port.on('message', ({ seq, input }) => {
    try {
      port.postMessage({ seq, result: encode(input, deflateSync, compressAbove) });
    } catch (e) {
      port.postMessage({ seq, error: String(e && e.message) });
    }
    Atomics.store(signal, 0, 1);
    Atomics.notify(signal, 0);
  });
`;

/**
 * Encodes large audit entries on a worker thread, so that building and deflating the JSON of a
 * 60,000-resource change set overlaps the invariant check instead of following it. `start`
 * returns a synchronous `take` (the runtime's `apply` is synchronous): it blocks on an
 * Atomics wait until the worker answers, and falls back to encoding in this thread if the
 * worker fails or does not answer within 30 s.
 */
export class AuditEncoder {
  #worker: Worker | undefined;
  #port: MessagePort | undefined;
  #signal: Int32Array | undefined;
  #seq = 0;
  #broken = false;

  start(input: AuditInput): () => EncodedAudit {
    if (this.#broken) return () => encodeAudit(input, deflateSync, COMPRESS_ABOVE);
    if (!this.#worker) {
      const { port1, port2 } = new MessageChannel();
      this.#signal = new Int32Array(new SharedArrayBuffer(4));
      this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { port: port2, signal: this.#signal, compressAbove: COMPRESS_ABOVE }, transferList: [port2] });
      this.#worker.unref();
      this.#worker.on('error', () => void (this.#broken = true));
      this.#port = port1;
    }
    const seq = ++this.#seq;
    this.#port!.postMessage({ seq, input });
    return () => {
      const deadline = Date.now() + 30_000;
      const signal = this.#signal!;
      for (;;) {
        Atomics.store(signal, 0, 0);
        const m = receiveMessageOnPort(this.#port!) as { message: { seq: number; result?: { changes: string | Uint8Array; touched: string | Uint8Array }; error?: string } } | undefined;
        if (m) {
          if (m.message.seq !== seq) continue; // an earlier change set's, refused before it was taken
          const r = m.message.result;
          if (!r) break;
          const buf = (x: string | Uint8Array) => (typeof x === 'string' ? x : Buffer.from(x.buffer, x.byteOffset, x.byteLength));
          return { changes: buf(r.changes), touched: buf(r.touched) };
        }
        if (this.#broken || Date.now() > deadline) break;
        Atomics.wait(signal, 0, 0, 100);
      }
      this.#broken = true;
      return encodeAudit(input, deflateSync, COMPRESS_ABOVE);
    };
  }

  async close(): Promise<void> {
    this.#port?.close();
    await this.#worker?.terminate();
    this.#worker = undefined;
  }
}

/** A JSON payload as stored: text, or deflated bytes when large. */
export function storedJson(json: string): string | Buffer {
  return json.length > COMPRESS_ABOVE ? deflateSync(json, { level: 1 }) : json;
}

/** The JSON text of a stored payload. */
export function jsonOf(stored: string | Buffer): string {
  return typeof stored === 'string' ? stored : inflateSync(stored).toString('utf8');
}

/** Thrown when the file was written by a newer Switchboard. */
export class StoreVersionError extends Error {
  constructor(file: string, found: number, known: number) {
    super(`the store ${file} has schema version ${found}, newer than this Switchboard knows (${known}): upgrade Switchboard`);
    this.name = 'StoreVersionError';
  }
}

const RESOURCE_COLUMNS = 'kind, id, company, body, secrets, manager, revision, updated_at, updated_by, updated_via, drifted';

/**
 * The SQLite store with its prepared statements. Synchronous (better-sqlite3). One instance
 * per connection; not shared across worker threads.
 */
export class Store {
  readonly db: Database.Database;
  readonly file: string;
  readonly #revision: Database.Statement<[], number>;
  readonly #dataVersion: Database.Statement<[], number>;
  readonly #setRevision: Database.Statement<[number]>;
  readonly #allResources: Database.Statement<[], ResourceRow>;
  readonly #oneResource: Database.Statement<[string, string], ResourceRow>;
  readonly insertResource: Database.Statement<ResourceRow>;
  readonly updateResource: Database.Statement<[string, string | null, string, number, string, string, string, number, string, string]>;
  readonly deleteResource: Database.Statement<[string, string]>;
  readonly #insertAudit: Database.Statement<[number, string, string, string, string | null, string | null, number | null, string | null, string | Buffer, string | Buffer]>;
  readonly #auditHeadsSince: Database.Statement<[number], AuditHead>;

  private constructor(file: string, options: { readonly busyTimeoutMs?: number; readonly readonly?: boolean } = {}) {
    this.file = file;
    this.db = new Database(file, { timeout: options.busyTimeoutMs ?? 5000 });
    // Only switch when needed: the switch takes locks that other processes' readers may hold.
    if (this.db.pragma('journal_mode', { simple: true }) !== 'wal') this.db.pragma('journal_mode = WAL');
    // FULL: a committed change set survives power loss too, not only a killed process.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.migrate();
    this.#revision = this.db.prepare<[], number>(`SELECT value FROM meta WHERE key = 'revision'`).pluck();
    this.#dataVersion = this.db.prepare<[], number>('PRAGMA data_version').pluck();
    this.#setRevision = this.db.prepare<[number]>(`UPDATE meta SET value = ? WHERE key = 'revision'`);
    this.#allResources = this.db.prepare<[], ResourceRow>(`SELECT ${RESOURCE_COLUMNS} FROM resources ORDER BY kind, id`).raw();
    this.#oneResource = this.db.prepare<[string, string], ResourceRow>(`SELECT ${RESOURCE_COLUMNS} FROM resources WHERE kind = ? AND id = ?`).raw();
    this.insertResource = this.db.prepare<ResourceRow>(`INSERT INTO resources (${RESOURCE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.updateResource = this.db.prepare(
      `UPDATE resources SET body = ?, secrets = ?, manager = ?, revision = ?, updated_at = ?, updated_by = ?, updated_via = ?, drifted = ? WHERE kind = ? AND id = ?`,
    );
    this.deleteResource = this.db.prepare<[string, string]>(`DELETE FROM resources WHERE kind = ? AND id = ?`);
    this.#insertAudit = this.db.prepare(
      `INSERT INTO audit (revision, at, actor, via, plan_digest, git_commit, git_dirty, summary, changes, touched) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#auditHeadsSince = this.db.prepare<[number], AuditHead>(`SELECT revision, at, actor, via, touched FROM audit WHERE revision > ? ORDER BY revision`);
  }

  /** Open (creating and migrating when needed) the store file. */
  static open(file: string, options?: { readonly busyTimeoutMs?: number }): Store {
    return new Store(file, options);
  }

  private migrate(): void {
    const version = () => this.db.pragma('user_version', { simple: true }) as number;
    if (version() === MIGRATIONS.length) return;
    this.db
      .transaction(() => {
        const from = version();
        if (from > MIGRATIONS.length) throw new StoreVersionError(this.file, from, MIGRATIONS.length);
        for (let v = from; v < MIGRATIONS.length; v++) MIGRATIONS[v]!(this.db);
        this.db.pragma(`user_version = ${MIGRATIONS.length}`);
      })
      .immediate();
  }

  /** The schema version of the file (`PRAGMA user_version`). */
  schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  /** The committed revision (reads the file: sees other processes' commits). */
  revision(): number {
    return this.#revision.get()!;
  }

  setRevision(revision: number): void {
    this.#setRevision.run(revision);
  }

  /** Changes whenever another connection commits to the file; cheap to poll. */
  dataVersion(): number {
    return this.#dataVersion.get()!;
  }

  allResources(): ResourceRow[] {
    return this.#allResources.all();
  }

  resource(kind: string, id: string): ResourceRow | undefined {
    return this.#oneResource.get(kind, id);
  }

  insertAudit(a: {
    revision: number;
    at: string;
    actor: string;
    via: string;
    planDigest?: string | undefined;
    gitCommit?: string | undefined;
    gitDirty?: boolean | undefined;
    summary?: string | undefined;
    changes: string | Buffer;
    touched: string | Buffer;
  }): void {
    this.#insertAudit.run(
      a.revision,
      a.at,
      a.actor,
      a.via,
      a.planDigest ?? null,
      a.gitCommit ?? null,
      a.gitDirty === undefined ? null : a.gitDirty ? 1 : 0,
      a.summary ?? null,
      typeof a.changes === 'string' ? storedJson(a.changes) : a.changes,
      typeof a.touched === 'string' ? storedJson(a.touched) : a.touched,
    );
  }

  /** Heads (without the bulky `changes`) of the entries committed after `revision`, oldest first. */
  auditHeadsSince(revision: number): AuditHead[] {
    return this.#auditHeadsSince.all(revision);
  }

  /** Audit entries, newest first, filtered; `beforeRevision` pages backwards. */
  auditPage(q: { readonly via?: string; readonly sinceRevision?: number; readonly beforeRevision?: number; readonly limit: number }): AuditRow[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.via !== undefined) where.push('via = ?'), args.push(q.via);
    if (q.sinceRevision !== undefined) where.push('revision > ?'), args.push(q.sinceRevision);
    if (q.beforeRevision !== undefined) where.push('revision < ?'), args.push(q.beforeRevision);
    const sql = `SELECT revision, at, actor, via, plan_digest, git_commit, git_dirty, summary, changes FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY revision DESC LIMIT ?`;
    return this.db.prepare<(string | number)[], AuditRow>(sql).all(...args, q.limit);
  }

  /** Run `fn` in one BEGIN IMMEDIATE transaction (the write lock is taken up front, so no deadlock upgrade). */
  writeTransaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** Run `fn` in one read transaction: a consistent snapshot across several statements. */
  readTransaction<T>(fn: () => T): T {
    return this.db.transaction(fn).deferred();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
