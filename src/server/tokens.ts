/**
 * Bearer tokens of the HTTP API.
 *
 * A token is `sbt_` + 32 random bytes (base64url). It is never stored: the store's `tokens`
 * table keeps its SHA-256 (hex) and the administrator's username. A request's token is
 * hashed and looked up by that hash, then the stored and computed hashes are compared with
 * `timingSafeEqual`. Looking up by hash leaks nothing an attacker can use: they cannot steer
 * the hash of what they send. A copy of the store yields no usable token.
 *
 * A token's public handle (to list and revoke it) is the first 16 hex digits of its hash.
 *
 * A token belongs to an administrator (an AdminAccount username): its rights are read from the
 * live AdminAccount at every request, so editing or deleting the account takes effect at once.
 * The one exception is the built-in super-admin token written to `<data-dir>/admin.token` on
 * first start, whose username is {@link BUILT_IN_ADMIN}: it exists before any AdminAccount, and
 * no token can be made for an AdminAccount of that name.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { DB_FILE, Store } from '../runtime/store.js';

/** The username of the built-in super-admin token (no token is ever made for an AdminAccount of that name). */
export const BUILT_IN_ADMIN = 'builtin:admin';

/** File name of the super-admin token in the data directory. */
export const ADMIN_TOKEN_FILE = 'admin.token';

const TOKEN_RE = /^sbt_[A-Za-z0-9_-]{43}$/;

/** A token as listed: its public id, never the token nor its full hash. */
export interface TokenInfo {
  readonly id: string;
  readonly username: string;
  readonly createdAt: string;
  /** The built-in super-admin token of admin.token. */
  readonly builtIn: boolean;
}

/** A freshly created token: `token` is shown once and never stored. */
export interface CreatedToken extends TokenInfo {
  readonly token: string;
}

/** What a presented token resolves to. Reasons never repeat the token. */
export type TokenCheck = { readonly ok: true; readonly info: TokenInfo } | { readonly ok: false; readonly reason: string };

interface Row {
  token_hash: string;
  username: string;
  created_at: string;
}

const sha256hex = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

/** Whether a username may hold tokens made by `POST /v1/tokens` or `switchboard token create`. */
export function isReservedUsername(username: string): boolean {
  return username.startsWith('builtin:');
}

/**
 * Tokens in the store's `tokens` table (`token_hash` TEXT primary key, `username`,
 * `created_at`), created by the store's first migration. Uses its own connection to the
 * store's SQLite file (WAL: it never blocks the runtime's readers).
 */
export class TokenStore {
  private readonly byHash: Database.Statement<[string], Row>;

  /** The tokens of the store in `dataDir` (open the Runtime first: it creates and migrates the store). */
  static open(dataDir: string): TokenStore {
    const store = Store.open(path.join(dataDir, DB_FILE));
    return new TokenStore(store.db, () => store.close());
  }

  constructor(
    private readonly db: Database.Database,
    private readonly onClose: () => void = () => undefined,
  ) {
    const table = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'tokens'").get();
    if (!table) throw new Error(`the store ${db.name} has no tokens table: it was created by an older Switchboard; open it once with this version to migrate it`);
    this.byHash = db.prepare('SELECT token_hash, username, created_at FROM tokens WHERE token_hash = ?');
  }

  /** Create a token for `username` (an AdminAccount, or {@link BUILT_IN_ADMIN}). */
  create(username: string): CreatedToken {
    const token = `sbt_${randomBytes(32).toString('base64url')}`;
    const createdAt = new Date().toISOString();
    const hash = sha256hex(token);
    this.db.prepare('INSERT INTO tokens (token_hash, username, created_at) VALUES (?, ?, ?)').run(hash, username, createdAt);
    return { ...toInfo({ token_hash: hash, username, created_at: createdAt }), token };
  }

  /** Resolve a presented token. */
  check(token: string): TokenCheck {
    if (!TOKEN_RE.test(token)) return { ok: false, reason: 'not a Switchboard token (sbt_ and 43 characters)' };
    const presented = sha256hex(token);
    const row = this.byHash.get(presented);
    // The lookup already matched; compare anyway in constant time so the check does not rest
    // on how SQLite compares strings.
    if (!row || !timingSafeEqual(Buffer.from(row.token_hash, 'hex'), Buffer.from(presented, 'hex'))) return { ok: false, reason: 'unknown or revoked token' };
    return { ok: true, info: toInfo(row) };
  }

  list(): TokenInfo[] {
    return this.db.prepare<[], Row>('SELECT token_hash, username, created_at FROM tokens ORDER BY created_at, token_hash').all().map(toInfo);
  }

  /** Revoke the tokens whose id is `id`; false if there was none. */
  revoke(id: string): boolean {
    if (!/^[0-9a-f]{16}$/.test(id)) return false;
    return this.db.prepare('DELETE FROM tokens WHERE substr(token_hash, 1, 16) = ?').run(id).changes > 0;
  }

  close(): void {
    this.onClose();
  }

  /**
   * Make sure `<dataDir>/admin.token` holds a valid built-in super-admin token: keep the file
   * when its token still verifies, otherwise revoke every built-in token and write a new one
   * (mode 0600, written to a temporary file and renamed). Deleting the file and restarting
   * `serve` rotates it. Returns the token for in-process callers (tests); never log it.
   */
  ensureAdminToken(dataDir: string): { readonly file: string; readonly created: boolean; readonly token: string } {
    const file = path.join(dataDir, ADMIN_TOKEN_FILE);
    if (existsSync(file)) {
      const token = readFileSync(file, 'utf8').trim();
      const check = this.check(token);
      if (check.ok && check.info.builtIn) {
        chmodSync(file, 0o600);
        return { file, created: false, token };
      }
    }
    const created = this.db.transaction(() => {
      this.db.prepare('DELETE FROM tokens WHERE username = ?').run(BUILT_IN_ADMIN);
      return this.create(BUILT_IN_ADMIN);
    })();
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${created.token}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
    return { file, created: true, token: created.token };
  }
}

function toInfo(row: Row): TokenInfo {
  return { id: row.token_hash.slice(0, 16), username: row.username, createdAt: row.created_at, builtIn: row.username === BUILT_IN_ADMIN };
}
