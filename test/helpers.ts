import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Diagnostic } from '../src/diagnostics.js';
import { validateConfig, type ValidationResult } from '../src/validate/validate.js';
import { processSecretSource } from '../src/config/secrets.js';

/** A fresh temporary directory. */
export function tempDir(prefix = 'switchboard-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** Write files (path → content) under dir. */
export function writeTree(dir: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
}

/** Validate a tree of files written to a temp dir; file names in diagnostics are relative to it. */
export function validateFiles(files: Record<string, string | Buffer>, env: Record<string, string> = {}): ValidationResult {
  const dir = tempDir();
  writeTree(dir, files);
  return validateConfig('.', { secrets: processSecretSource(env, dir), cwd: dir });
}

/** `file:line:col code` for compact assertions. */
export function short(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.column} ${d.code}`;
}

/** Tag for YAML literals: strips the common indentation so tests read naturally. */
export function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const raw = strings.reduce((acc, s, i) => acc + s + (i < values.length ? String(values[i]) : ''), '');
  const lines = raw.replace(/^\n/, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => l.match(/^ */)![0].length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

export const header = (kind: string) => `apiVersion: switchboard/v1\nkind: ${kind}\n`;
