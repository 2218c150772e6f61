/**
 * What `switchboard watch` reports: one typed event per reconcile cycle (plus one when it
 * starts and one when it stops), emitted by the {@link Watcher} to a {@link WatchHost}. Events
 * are plain JSON values — `--format json` prints each as one line — and the text renderer
 * below turns a cycle into one log line (plus indented details when something needs a
 * person: diagnostics, held deletions, out-of-band changes). Pure: no I/O here.
 */
import { formatDiagnostic, type Diagnostic } from '../diagnostics.js';
import type { KindName } from '../model/kinds.js';
import type { ChangeProblem, ChangeVia } from '../runtime/types.js';

/** Why a cycle ran. `files`: configuration files changed; `head`: git HEAD moved (--committed-only). */
export type Trigger = 'start' | 'files' | 'head' | 'resync' | 'retry';

/**
 * How a cycle ended.
 * - `applied`: a change set was committed (`revision` is the new revision);
 * - `no-changes`: the runtime already matches (apart from held changes, if any);
 * - `unchanged`: neither the files nor the runtime's revision moved since the last cycle: not re-planned;
 * - `invalid`: the tree has errors: nothing applied, the runtime keeps the last good state;
 * - `refused`: the runtime refused the change set (nothing applied): an invariant, a licence …;
 * - `failed`: the runtime could not be reached or a step threw: retried with backoff;
 * - `cancelled`: stopped (SIGINT/SIGTERM) before anything was sent.
 */
export type Outcome = 'applied' | 'no-changes' | 'unchanged' | 'invalid' | 'refused' | 'failed' | 'cancelled';

/** A change the watcher did not apply, and why (it stays pending until allowed or reverted). */
export interface HeldChange {
  readonly action: 'create' | 'update' | 'delete' | 'replace';
  readonly kind: KindName;
  readonly id: string;
  /**
   * `destroy-not-allowed`: a deletion of a kind not named in --allow-destroy;
   * `protected`: deletes or replaces a `protect: true` resource (never automatic);
   * `dependent`: deleting it would remove something under a held deletion;
   * `out-of-band`: reverts an edit made outside config, and --no-self-heal is on.
   */
  readonly reason: 'destroy-not-allowed' | 'protected' | 'dependent' | 'out-of-band';
  readonly message: string;
}

/** A live resource changed outside this configuration, and by whom (plan drift + audit log). */
export interface DriftReport {
  readonly kind: KindName;
  readonly id: string;
  /** What the plan does about it: update it back, create it again (it was deleted), delete it … */
  readonly action: 'create' | 'update' | 'delete' | 'replace';
  readonly actor: string;
  readonly via: ChangeVia | string;
  readonly revision: number;
  readonly at?: string;
  /** The plan's change for it was applied (self-heal), or held (--no-self-heal). */
  readonly reverted: boolean;
}

export interface PlanCounts {
  readonly create: number;
  readonly update: number;
  readonly replace: number;
  readonly delete: number;
}

/** Milliseconds per phase of a cycle. */
export interface CycleTimings {
  readonly load?: number;
  readonly validate?: number;
  readonly plan?: number;
  readonly apply?: number;
}

export interface CycleEvent {
  readonly type: 'cycle';
  /** 1, 2, 3 … in this watch process. */
  readonly cycle: number;
  readonly trigger: Trigger;
  /** When the cycle started (ISO time). */
  readonly at: string;
  /** Configuration files whose content changed since the previous cycle (added, edited, removed); all of them on the first. */
  readonly files: readonly string[];
  /** Files parsed again in this cycle (the others came from the parse cache). */
  readonly parsed: number;
  readonly git?: { readonly commit: string; readonly dirty: boolean };
  readonly outcome: Outcome;
  /** The whole plan, before anything was held. */
  readonly plan?: PlanCounts;
  /** Changes sent in the change set (after holding). */
  readonly applied?: number;
  /** The runtime's revision at the end of the cycle (the new one when applied). */
  readonly revision?: number;
  readonly held: readonly HeldChange[];
  readonly drift: readonly DriftReport[];
  /** For `invalid` (errors and warnings), and warnings of a valid tree. */
  readonly diagnostics?: readonly Diagnostic[];
  readonly errors?: number;
  readonly warnings?: number;
  /** For `refused`. */
  readonly refusal?: { readonly code: string; readonly message: string; readonly problems: readonly ChangeProblem[] };
  /** For `failed`: what went wrong, and when the next attempt is. */
  readonly failure?: { readonly message: string; readonly unreachable: boolean; readonly attempt: number; readonly retryInMs: number };
  readonly durationMs: number;
  readonly timings: CycleTimings;
}

export interface StartedEvent {
  readonly type: 'started';
  readonly at: string;
  readonly root: string;
  readonly runtime: string;
  readonly mode: 'working-tree' | 'committed-only';
  readonly resyncMs: number;
  readonly debounceMs: number;
  readonly allowDestroy: readonly KindName[];
  readonly selfHeal: boolean;
}

export interface StoppedEvent {
  readonly type: 'stopped';
  readonly at: string;
  readonly reason: string;
  readonly cycles: number;
}

export type WatchEvent = StartedEvent | CycleEvent | StoppedEvent;

/** Where the watcher's events go: the terminal, a JSON stream, or a recording list in tests. */
export interface WatchHost {
  emit(event: WatchEvent): void;
}

/** `1.2 s`, `300 ms`, `5 min`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${+(ms / 60_000).toFixed(1)} min`;
  return `${+(ms / 3_600_000).toFixed(1)} h`;
}

const SYMBOL = { create: '+', update: '~', replace: '∓', delete: '-' } as const;

function clock(iso: string): string {
  const d = new Date(iso);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function fileList(files: readonly string[]): string {
  if (files.length === 0) return '';
  const shown = files.slice(0, 3).join(', ');
  return files.length > 3 ? ` (${shown} +${files.length - 3} more)` : ` (${shown})`;
}

const counts = (p: PlanCounts) => `+${p.create} ~${p.update} ∓${p.replace} -${p.delete}`;

/**
 * One line for a cycle, then indented details: diagnostics (for an invalid tree, or a valid
 * tree's warnings when `showWarnings`), the held changes (when `showHeld`: the CLI shows them
 * when they change, not every cycle), and out-of-band changes.
 */
export function renderCycleText(e: CycleEvent, options: { showHeld?: boolean; showWarnings?: boolean } = {}): string {
  const parts: string[] = [];
  const trigger = e.trigger === 'files' ? `files${fileList(e.files)}` : e.trigger === 'head' ? `HEAD moved${e.git ? ` to ${e.git.commit.slice(0, 12)}` : ''}${fileList(e.files)}` : e.trigger;
  parts.push(`${clock(e.at)} #${e.cycle} ${trigger}`);
  switch (e.outcome) {
    case 'invalid':
      parts.push(`invalid: ${e.errors ?? 0} error${e.errors === 1 ? '' : 's'}, nothing applied${e.revision !== undefined ? ` (runtime stays at revision ${e.revision})` : ' (the runtime keeps its last good state)'}`);
      break;
    case 'applied':
      parts.push(`plan ${counts(e.plan!)}`, `applied ${e.applied} change${e.applied === 1 ? '' : 's'} → revision ${e.revision}`);
      break;
    case 'no-changes':
      parts.push(e.plan && (e.plan.create || e.plan.update || e.plan.replace || e.plan.delete) ? `plan ${counts(e.plan)}, nothing to apply` : 'no changes', `revision ${e.revision}`);
      break;
    case 'unchanged':
      parts.push(`nothing changed, revision ${e.revision}`);
      break;
    case 'refused':
      parts.push(`plan ${counts(e.plan!)}`, `refused by the runtime (${e.refusal!.code}), nothing applied: ${e.refusal!.message}`);
      break;
    case 'failed':
      parts.push(`${e.failure!.unreachable ? 'runtime unreachable' : 'failed'}: ${e.failure!.message}; retrying in ${formatDuration(e.failure!.retryInMs)} (attempt ${e.failure!.attempt})`);
      break;
    case 'cancelled':
      parts.push('stopping: nothing sent');
      break;
  }
  if (e.held.length > 0) parts.push(`${e.held.length} held`);
  if (e.drift.length > 0) parts.push(`${e.drift.length} out-of-band change${e.drift.length === 1 ? '' : 's'} ${e.drift.every((d) => d.reverted) ? 'reverted' : 'found'}`);
  parts.push(formatDuration(e.durationMs));
  const lines = [parts.join(' · ')];
  const diagnostics = e.outcome === 'invalid' || options.showWarnings ? (e.diagnostics ?? []) : [];
  for (const d of diagnostics) lines.push(`  ${formatDiagnostic(d)}`);
  for (const d of e.drift) {
    lines.push(`  drift: ${SYMBOL[d.action]} ${d.kind} ${d.id} changed by ${d.actor} (${d.via}, revision ${d.revision}${d.at ? `, ${d.at}` : ''}): ${d.reverted ? 'reverted' : 'left as is (--no-self-heal)'}`);
  }
  if (options.showHeld) {
    for (const h of e.held) lines.push(`  held: ${SYMBOL[h.action]} ${h.action} ${h.kind} ${h.id}: ${h.message}`);
  }
  if (e.outcome === 'refused') for (const p of e.refusal!.problems) lines.push(`  - ${p.kind ? `${p.kind} ${p.id ?? ''}${p.path ? ` ${p.path}` : ''}: ` : ''}${p.message} [${p.code}]`);
  return lines.join('\n');
}

export function renderStartedText(e: StartedEvent): string {
  return (
    `Watching ${e.root}${e.mode === 'committed-only' ? ' (committed changes only: git HEAD)' : ''} → ${e.runtime}; ` +
    `resync ${e.resyncMs > 0 ? `every ${formatDuration(e.resyncMs)}` : 'off'}, ` +
    `deletions ${e.allowDestroy.length > 0 ? `of ${e.allowDestroy.join(', ')} applied, others held` : 'held (allow with --allow-destroy=KIND)'}, ` +
    `self-heal ${e.selfHeal ? 'on' : 'off'}. Stop with Ctrl-C.`
  );
}

export function renderStoppedText(e: StoppedEvent): string {
  return `Stopped (${e.reason}) after ${e.cycles} cycle${e.cycles === 1 ? '' : 's'}.`;
}
