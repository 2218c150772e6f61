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
const COMPRESS_ABOVE = 64 * 1024;

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
    this.db.pragma('journal_mode = WAL');
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
    changes: string;
    touched: string;
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
      storedJson(a.changes),
      storedJson(a.touched),
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
