/**
 * Diagnostics: every problem Switchboard finds in a configuration, as plain data.
 *
 * A diagnostic is born with a {@link SourceRef} (file, document index, path inside the
 * document) because the fast parser used for valid trees knows no positions. Positions are
 * resolved at the very end, only for the files that have diagnostics (see
 * `config/positions.ts`). Core code never prints diagnostics; `cli/` formats them.
 */

export type Severity = 'error' | 'warning';

/** A path inside a YAML document: map keys and sequence indexes. */
export type NodePath = readonly (string | number)[];

/** Where a value came from: a file, the index of the YAML document in it, a path inside it. */
export interface SourceRef {
  readonly file: string;
  readonly doc: number;
  readonly path: NodePath;
}

/** A problem, located (line/column filled) or not yet. */
export interface Diagnostic {
  readonly severity: Severity;
  /** Stable rule id, e.g. `schema-unknown-field`, `unresolved-reference`. */
  readonly code: string;
  /** What is wrong and how to fix it, one or two sentences. Never contains a secret value. */
  readonly message: string;
  /** File path as the user gave it (relative to the working directory when possible). */
  readonly file?: string;
  /** 1-based line and column of the offending node. */
  readonly line?: number;
  readonly column?: number;
  /** Path of the offending node inside its YAML document, e.g. `items.3.devices.0.number`. */
  readonly path?: string;
}

/** A diagnostic before positions are resolved. `key: true` points at the map key, not its value. */
export interface PendingDiagnostic {
  readonly severity: Severity;
  readonly code: string;
  readonly message: string;
  readonly at?: SourceRef;
  readonly key?: boolean;
  /** Already-known position (parse errors carry their own). */
  readonly line?: number;
  readonly column?: number;
  /** Another place the message refers to ("first declared at …"), appended once located. */
  readonly related?: { readonly label: string; readonly at: SourceRef };
}

export function error(code: string, message: string, at?: SourceRef, key?: boolean): PendingDiagnostic {
  return { severity: 'error', code, message, at, key };
}

export function warning(code: string, message: string, at?: SourceRef, key?: boolean): PendingDiagnostic {
  return { severity: 'warning', code, message, at, key };
}

export function hasErrors(diagnostics: readonly { severity: Severity }[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** Sort by file, line, column, then code: one deterministic order for every output. */
export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort(
    (a, b) =>
      cmp(a.file ?? '', b.file ?? '') ||
      (a.line ?? 0) - (b.line ?? 0) ||
      (a.column ?? 0) - (b.column ?? 0) ||
      cmp(a.code, b.code) ||
      cmp(a.message, b.message),
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `FILE:LINE:COL: error|warning: MESSAGE [rule-id]` */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.file ? `${d.file}:${d.line ?? 1}:${d.column ?? 1}: ` : '';
  return `${where}${d.severity}: ${d.message} [${d.code}]`;
}

/** Render a path as `items.3.devices.0.number` (the form used in messages and JSON output). */
export function pathToString(path: NodePath): string {
  return path.map(String).join('.');
}

/** Render a path as a field path, `devices[0].password` (the form of plan field changes). */
export function fieldPath(path: NodePath): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${p}` : p;
  return s;
}
