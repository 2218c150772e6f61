/** Words shared by the plan renderers. Pure. */
import type { ImpactFact } from '../runtime/types.js';
import type { Action, FieldChange, Plan, PlannedChange } from '../plan/types.js';

export const SYMBOL: Record<Action, string> = { create: '+', update: '~', delete: '-', replace: '∓' };

export function value(v: unknown): string {
  if (v === undefined) return '(none)';
  if (v !== null && typeof v === 'object' && typeof (v as { $secret?: unknown }).$secret === 'string') return '(sensitive)';
  const s = JSON.stringify(v, (_k, x: unknown) => (x !== null && typeof x === 'object' && typeof (x as { $secret?: unknown }).$secret === 'string' ? '(sensitive)' : x));
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

export function fieldLine(f: FieldChange): string {
  if (f.sensitive) return `${f.path}: (sensitive value changed)`;
  if (f.before === undefined) return `${f.path}: + ${value(f.after)}`;
  if (f.after === undefined) return `${f.path}: - ${value(f.before)}`;
  return `${f.path}: ${value(f.before)} → ${value(f.after)}`;
}

export function factLine(f: ImpactFact): string {
  switch (f.type) {
    case 'restart':
      return `restarts ${f.target} (${f.reason})${f.extensionsInterrupted > 0 ? `: ${f.extensionsInterrupted} extension${f.extensionsInterrupted === 1 ? '' : 's'} lose supervision meanwhile` : ''}`;
    case 'supervision-start':
      return `supervision starts: ${list(f.extensions)}`;
    case 'supervision-stop':
      return `supervision stops: ${list(f.extensions)}`;
    case 'not-supervised':
      return `configured, not supervised (${f.reason}): ${list(f.extensions)}`;
    case 'sync-rerun':
      return `re-runs ${f.target} (${f.reason})`;
    case 'sync-unsupported':
      return `does not synchronize ${f.target} (${f.reason})`;
  }
}

export function list(items: readonly string[], max = 10): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} … and ${(items.length - max).toLocaleString('en-US')} more`;
}

export function summaryLine(plan: Plan): string {
  const s = plan.summary;
  if (plan.changes.length === 0) return 'No changes. The runtime matches the configuration.';
  return `Plan: ${s.create} to create, ${s.update} to update, ${s.replace} to replace, ${s.delete} to delete.`;
}

export function header(plan: Plan): string {
  const git = plan.config.git ? `, git ${plan.config.git.commit.slice(0, 12)}${plan.config.git.dirty ? ' (dirty)' : ''}` : '';
  return `Plan of ${plan.config.root}${git} against ${plan.runtime.location} at revision ${plan.runtime.revision}`;
}

/** The company a change belongs to (first id segment; server-wide kinds have none). */
export function companyOf(c: Pick<PlannedChange, 'kind' | 'id'>): string {
  if (c.kind === 'AdminAccount') return '(server)';
  return c.id.split('/')[0]!;
}

export const plural = (n: number, word: string) => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : word.endsWith('y') ? '' : 's'}`.replace(/ys$/, 'ies');
