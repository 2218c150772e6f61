/**
 * Secret references: a field marked `x-secret` in its schema may hold `${env:NAME}` or
 * `${file:relative/path}` instead of the value. A literal secret is accepted with a warning
 * (it would be committed to git). Resolved values are never put into a message.
 */
import path from 'node:path';
import { readFileSync } from 'node:fs';

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

/** Where secret values come from. The CLI passes the process environment and the disk. */
export interface SecretSource {
  env(name: string): string | undefined;
  /** Contents of `relative` resolved against the directory of the YAML file `from`, or undefined. */
  file(from: string, relative: string): string | undefined;
}

/** Secrets from `process.env` and files next to the configuration (trailing newline trimmed). */
export function processSecretSource(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): SecretSource {
  return {
    env: (name) => env[name],
    file(from, relative) {
      try {
        const abs = path.resolve(cwd, path.dirname(from), relative);
        return readFileSync(abs, 'utf8').replace(/\r?\n$/, '');
      } catch {
        return undefined;
      }
    },
  };
}
