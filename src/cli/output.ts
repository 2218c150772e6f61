/**
 * Formatting diagnostics for people (text, coloured on a terminal) and programs (JSON).
 * Only `cli/` writes to stdout/stderr.
 */
import pc from 'picocolors';
import { formatDiagnostic, type Diagnostic } from '../diagnostics.js';

export function colours(enabled: boolean) {
  return pc.createColors(enabled);
}

export function useColour(stream: NodeJS.WriteStream): boolean {
  return stream.isTTY === true && !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb';
}

export function renderDiagnosticsText(diagnostics: readonly Diagnostic[], colour: boolean): string {
  const c = colours(colour);
  return diagnostics
    .map((d) => {
      const line = formatDiagnostic(d);
      if (!colour) return line;
      return line.replace(/: (error|warning): /, (_m, s: string) => `: ${s === 'error' ? c.red(c.bold(s)) : c.yellow(c.bold(s))}: `);
    })
    .join('\n');
}

export function countBySeverity(diagnostics: readonly Diagnostic[]): { errors: number; warnings: number } {
  let errors = 0;
  let warnings = 0;
  for (const d of diagnostics) d.severity === 'error' ? errors++ : warnings++;
  return { errors, warnings };
}

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
