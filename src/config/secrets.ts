/**
 * Secret references: a field marked `x-secret` in its schema may hold `${env:NAME}` or
 * `${file:relative/path}` instead of the value. A literal secret is accepted with a warning
 * (it would be committed to git). Resolved values are never put into a message.
 */
import path from 'node:path';
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';

export type SecretReference = { source: 'env'; name: string } | { source: 'file'; path: string };

const REFERENCE = /^\$\{(env|file):([^}]+)\}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parse `${env:NAME}` / `${file:path}`; a string that merely contains `${` is a literal. */
export function parseSecretReference(value: string): SecretReference | { source: 'invalid'; reason: string } | undefined {
  const m = REFERENCE.exec(value);
  if (!m) return value.startsWith('${') ? { source: 'invalid', reason: 'expected ${env:NAME} or ${file:relative/path}' } : undefined;
  if (m[1] === 'env') {
    return ENV_NAME.test(m[2]!) ? { source: 'env', name: m[2]! } : { source: 'invalid', reason: `'${m[2]!}' is not a valid environment variable name` };
  }
  return { source: 'file', path: m[2]! };
}

/** Why a `${file:…}` reference gave no value; the message says what to do. */
export type SecretFileProblem = {
  readonly code: 'secret-file-missing' | 'secret-file-outside' | 'secret-file-invalid';
  readonly message: string;
};

/** The value of a `${file:…}` reference, or why there is none. */
export type SecretFileResult = { readonly ok: true; readonly value: string } | ({ readonly ok: false } & SecretFileProblem);

/** Where secret values come from. The CLI passes the process environment and the disk. */
export interface SecretSource {
  env(name: string): string | undefined;
  /** Contents of `reference` resolved against the directory of the YAML file `from`. */
  file(from: string, reference: string): SecretFileResult;
  /**
   * The reference as a plan records it: `${file:…}` relative to the configuration root rather
   * than to the YAML file, so that applying a saved plan (which knows only the root) reads the
   * same file. Env references are returned unchanged.
   */
  reference?(from: string, written: string): string;
}

/** A secret file is a password or a key, not data: larger ones are refused without being read. */
export const MAX_SECRET_FILE_BYTES = 64 * 1024;

export interface SecretFileOptions {
  /** The configuration root (a directory, or a single file whose directory is the root). */
  readonly root: string;
  /** Other directories `${file:}` may read from (`--secrets-dir`), besides the configuration root. */
  readonly secretsDirs?: readonly string[];
}

const inside = (dir: string, p: string) => {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
};

function statSafe(p: string) {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

function realDir(p: string): string | undefined {
  try {
    const real = realpathSync(p);
    return statSync(real).isDirectory() ? real : path.dirname(real);
  } catch {
    return undefined;
  }
}

/**
 * Secrets from `process.env` and from files confined to the configuration root and the
 * `--secrets-dir` directories, checked after symlinks are resolved: a reference that is
 * absolute, climbs out with `..`, or goes through a symlink to elsewhere is refused, so a
 * configuration cannot send an arbitrary file of the machine to a PBX or an LDAP server.
 * Only regular files up to {@link MAX_SECRET_FILE_BYTES} of UTF-8 text are read (a FIFO or a
 * device would block or never end); one trailing newline is removed.
 */
export function processSecretSource(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd(), options?: SecretFileOptions): SecretSource {
  const rootGiven = path.resolve(cwd, options?.root ?? '.');
  const rootReal = realDir(rootGiven);
  const secretsReal = (options?.secretsDirs ?? []).map((d) => realDir(path.resolve(cwd, d))).filter((d): d is string => d !== undefined);
  const allowed = rootReal === undefined ? secretsReal : [rootReal, ...secretsReal];
  const fix = `keep secret files under the configuration directory, or allow their directory with --secrets-dir DIR`;
  const rootDir = statSafe(rootGiven)?.isFile() ? path.dirname(rootGiven) : rootGiven;
  return {
    env: (name) => env[name],
    reference(from, written) {
      const ref = parseSecretReference(written);
      if (ref?.source !== 'file' || path.isAbsolute(ref.path)) return written;
      const rel = path.relative(rootDir, path.resolve(cwd, path.dirname(from), ref.path));
      return `\${file:${rel.split(path.sep).join('/')}}`;
    },
    file(from, reference) {
      const isAbsolute = path.isAbsolute(reference) || path.win32.isAbsolute(reference);
      const abs = isAbsolute ? path.resolve(reference) : path.resolve(cwd, path.dirname(from), reference);
      let real: string;
      try {
        real = realpathSync(abs);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (isAbsolute && !secretsReal.some((d) => inside(d, abs))) {
          return { ok: false, code: 'secret-file-outside', message: `secret file '${reference}' is an absolute path outside every --secrets-dir, refused: ${fix}` };
        }
        if (!isAbsolute && !inside(rootGiven, abs) && !allowed.some((d) => inside(d, abs))) {
          return { ok: false, code: 'secret-file-outside', message: `secret file '${reference}' is outside the configuration directory (it resolves to ${abs}), refused: ${fix}` };
        }
        if (code === 'ENOENT' || code === 'ENOTDIR') {
          return { ok: false, code: 'secret-file-missing', message: `secret file '${reference}' does not exist (resolved relative to this YAML file: ${abs}): create it or fix the path` };
        }
        return { ok: false, code: 'secret-file-missing', message: `secret file '${reference}' cannot be read (${code ?? (e as Error).message}): fix its permissions or the path` };
      }
      // An absolute reference is accepted only inside a --secrets-dir, never inside the
      // configuration itself (where a relative path says the same and survives a move).
      const places = isAbsolute ? secretsReal : allowed;
      if (!places.some((d) => inside(d, real))) {
        const where = isAbsolute ? 'is an absolute path outside every --secrets-dir' : real === abs ? `is outside the configuration directory (it resolves to ${real})` : `leads outside the configuration directory through a symbolic link (to ${real})`;
        return { ok: false, code: 'secret-file-outside', message: `secret file '${reference}' ${where}, refused: ${fix}` };
      }
      let fd: number | undefined;
      try {
        fd = openSync(real, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
        const st = fstatSync(fd);
        if (!st.isFile()) return { ok: false, code: 'secret-file-invalid', message: `secret file '${reference}' is not a regular file (a directory, device or pipe): point it at a file holding the secret` };
        if (st.size > MAX_SECRET_FILE_BYTES) {
          return { ok: false, code: 'secret-file-invalid', message: `secret file '${reference}' is ${st.size} bytes, over the ${MAX_SECRET_FILE_BYTES}-byte limit for a secret: point it at the file holding only the secret` };
        }
        const buf = Buffer.alloc(st.size);
        const n = readSync(fd, buf, 0, st.size, 0);
        const bytes = buf.subarray(0, n);
        if (!isUtf8(bytes) || bytes.includes(0)) {
          return { ok: false, code: 'secret-file-invalid', message: `secret file '${reference}' is not UTF-8 text: save the secret as UTF-8 text (a binary key must be base64-encoded)` };
        }
        return { ok: true, value: bytes.toString('utf8').replace(/\r?\n$/, '') };
      } catch (e) {
        return { ok: false, code: 'secret-file-missing', message: `secret file '${reference}' cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): fix its permissions or the path` };
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
    },
  };
}

/** A source with no secrets at all (checks of bodies that hold values, not references). */
export const NO_SECRETS: SecretSource = {
  env: () => undefined,
  file: () => ({ ok: false, code: 'secret-file-missing', message: 'no secret files here' }),
};
