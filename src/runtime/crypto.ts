/**
 * Secrets at rest: one 32-byte master key per data directory (`secret.key`, mode 0600,
 * created on first start), from which two keys are derived with HKDF-SHA-256:
 *
 * - `info = "aes-256-gcm"`: encrypts each secret value (AES-256-GCM, random 12-byte IV, the
 *   resource's kind and id as additional data so a ciphertext cannot be moved to another
 *   resource). Stored as `v1:` + base64(iv | tag | ciphertext).
 * - `info = "fingerprint"`: keyed fingerprints, `hmac-sha256:` + base64url(HMAC-SHA-256).
 *   They let a plan tell a changed secret from an unchanged one without reading it back, and
 *   they mean nothing without the key (no offline dictionary attack on a leaked state dump).
 *
 * Design and threat model: docs/runtime.md, "Secrets". Nothing here logs or returns a clear
 * value except {@link SecretBox.decrypt}, whose result must stay inside the runtime.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { NodePath } from '../diagnostics.js';
import type { KindName } from '../model/kinds.js';
import { schemaRegistry, valuesAt, type SecretPattern } from '../schema/registry.js';
import { isSecretFingerprint, type SecretFingerprint } from './types.js';

export const KEY_FILE = 'secret.key';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const VERSION = 'v1:';
export const FINGERPRINT_PREFIX = 'hmac-sha256:';

/** A problem with the key file that must stop the runtime from starting. */
export class KeyFileError extends Error {
  readonly code: 'key-permissions' | 'key-invalid';
  constructor(code: 'key-permissions' | 'key-invalid', message: string) {
    super(message);
    this.name = 'KeyFileError';
    this.code = code;
  }
}

/**
 * Read the data directory's master key, creating it (0600, exclusive create: two processes
 * starting together agree on one key) when absent. Refuses a key file readable or writable by
 * group or others, like ssh does with private keys: the key is what protects every secret.
 */
export function loadOrCreateKey(dataDir: string): Buffer {
  const file = path.join(dataDir, KEY_FILE);
  try {
    const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      writeSync(fd, randomBytes(KEY_BYTES));
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const fd = openSync(file, 'r');
  try {
    const st = fstatSync(fd);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw new KeyFileError(
        'key-permissions',
        `the key file ${file} is accessible by other users (mode ${(st.mode & 0o777).toString(8)}): it protects every secret in the store; run 'chmod 600 ${file}' and start again`,
      );
    }
    const key = readFileSync(fd);
    if (key.length !== KEY_BYTES) {
      throw new KeyFileError('key-invalid', `the key file ${file} holds ${key.length} bytes, not ${KEY_BYTES}: restore it from backup (without it the stored secrets cannot be read)`);
    }
    return key;
  } finally {
    closeSync(fd);
  }
}

/** Encrypts, decrypts and fingerprints secret values under keys derived from one master key. */
export class SecretBox {
  readonly #encKey: Buffer;
  readonly #fpKey: Buffer;

  constructor(masterKey: Buffer) {
    this.#encKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'aes-256-gcm', KEY_BYTES));
    this.#fpKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'fingerprint', KEY_BYTES));
  }

  /** `hmac-sha256:<base64url>` of a value: stable for one data directory, different across them. */
  fingerprint(value: string): string {
    return FINGERPRINT_PREFIX + createHmac('sha256', this.#fpKey).update(value, 'utf8').digest('base64url');
  }

  /** Encrypt a value bound to its resource (`aad`, e.g. `PbxLink\0acme/paris/pbx`). */
  encrypt(value: string, aad: string): string {
    const iv = randomBytes(IV_BYTES);
    const c = createCipheriv('aes-256-gcm', this.#encKey, iv);
    c.setAAD(Buffer.from(aad, 'utf8'));
    const ct = Buffer.concat([c.update(value, 'utf8'), c.final()]);
    return VERSION + Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64');
  }

  /** Decrypt a stored value; throws (without the value) when the key or the resource does not match. */
  decrypt(stored: string, aad: string): string {
    if (!stored.startsWith(VERSION)) throw new Error(`unknown secret encoding '${stored.slice(0, 3)}'`);
    const raw = Buffer.from(stored.slice(VERSION.length), 'base64');
    if (raw.length < IV_BYTES + TAG_BYTES) throw new Error('truncated secret ciphertext');
    const d = createDecipheriv('aes-256-gcm', this.#encKey, raw.subarray(0, IV_BYTES));
    d.setAAD(Buffer.from(aad, 'utf8'));
    d.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([d.update(raw.subarray(IV_BYTES + TAG_BYTES)), d.final()]).toString('utf8');
  }
}

// ---------------------------------------------------------------------------------------
// Secret fields in bodies. Secret fields are those the kind's schema marks `x-secret` (the
// same patterns `validate` uses). A slot is a secret path holding a string (a value) or a
// fingerprint object. Bodies come in three forms: live (secrets as `{ $secret }`), audit
// (`"(sensitive)"`) and clear (values: only in memory, only to re-check invariants).

/** The secret patterns of a kind (the schema registry's, precompiled at build). */
export function secretPatternsOf(kind: KindName): readonly SecretPattern[] {
  return schemaRegistry().secretPatterns(kind);
}

export interface SecretSlot {
  readonly path: NodePath;
  readonly value: string | SecretFingerprint;
}

/** Every secret slot of a body: the values at secret paths that `accept` takes (by default string values and fingerprint objects). */
export function secretSlots(kind: KindName, body: unknown, accept: (v: unknown) => boolean = (v) => typeof v === 'string' || isSecretFingerprint(v)): SecretSlot[] {
  const pats = secretPatternsOf(kind);
  if (pats.length === 0) return NO_SLOTS;
  const out = valuesAt(body, pats, accept) as SecretSlot[];
  return out.length === 0 ? NO_SLOTS : out;
}

const NO_SLOTS: SecretSlot[] = [];

/** A deep copy of `body` with the value at each path replaced. */
export function withValues(body: Readonly<Record<string, unknown>>, values: readonly (readonly [NodePath, unknown])[]): Record<string, unknown> {
  const copy = structuredClone(body) as Record<string, unknown>;
  for (const [path, value] of values) setPath(copy, path, value);
  return copy;
}

export function setPath(body: Record<string, unknown>, path: NodePath, value: unknown): void {
  let v: Record<string | number, unknown> = body;
  for (let i = 0; i < path.length - 1; i++) v = v[path[i]!] as Record<string | number, unknown>;
  v[path[path.length - 1]!] = value;
}

export const SENSITIVE = '(sensitive)';

/** The audit form of a live body: every fingerprint replaced by "(sensitive)". */
export function redactLive(kind: KindName, body: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  const slots = secretSlots(kind, body);
  if (slots.length === 0) return body;
  return withValues(
    body,
    slots.map((s) => [s.path, SENSITIVE] as const),
  );
}
