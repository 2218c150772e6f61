/**
 * `switchboard history`: the change sets committed to the runtime, newest first, from its
 * audit log — revision, time, who, how (plan, api, sync), the configuration's git commit and
 * whether the tree was dirty, and the summary. When the commit is in the git repository of
 * the working directory, its author and subject are shown too.
 */
import { execFileSync } from 'node:child_process';
import type { CliIo } from './main.js';
import { openRuntime } from './runtime.js';
import { CliError } from './reconcile.js';
import type { AuditEntry, ChangeVia } from '../runtime/types.js';

export interface HistoryCommandOptions {
  readonly runtime?: string;
  readonly limit?: string;
  readonly via?: ChangeVia;
  readonly format?: 'text' | 'json';
}

/** One line of history: an audit entry without resource bodies, plus what git knows of its commit. */
export interface HistoryEntry {
  readonly revision: number;
  readonly at: string;
  readonly actor: string;
  readonly via: ChangeVia;
  readonly gitCommit?: string;
  readonly gitDirty?: boolean;
  /** Author and subject of the commit, when the working directory's repository has it. */
  readonly commitAuthor?: string;
  readonly commitSubject?: string;
  readonly planDigest?: string;
  readonly summary: string;
  readonly changes: readonly { readonly action: string; readonly kind: string; readonly id: string }[];
}

/** The summary of an entry: the one recorded at apply, else what its changes do. */
function summaryOf(e: AuditEntry): string {
  if (e.summary) return e.summary;
  if (e.changes.length === 1) return `${e.changes[0]!.action} ${e.changes[0]!.kind} ${e.changes[0]!.id}`;
  const counts = new Map<string, number>();
  for (const c of e.changes) counts.set(c.action, (counts.get(c.action) ?? 0) + 1);
  return `${e.changes.length} changes: ${[...counts].map(([a, n]) => `${n} ${a}`).join(', ')}`;
}

/** Author and subject of commits the repository at `cwd` has (others are left out). */
function commitInfo(commits: readonly string[], cwd: string): Map<string, { author: string; subject: string }> {
  const out = new Map<string, { author: string; subject: string }>();
  for (const c of new Set(commits)) {
    if (!/^[0-9a-f]{7,64}$/i.test(c)) continue;
    try {
      const [author, subject] = execFileSync('git', ['show', '-s', '--format=%an%x00%s', `${c}^{commit}`], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
        .trim()
        .split('\0');
      out.set(c, { author: author ?? '', subject: subject ?? '' });
    } catch {
      // not a git repository, or not this repository's commit
    }
  }
  return out;
}

export function historyEntries(entries: readonly AuditEntry[], cwd: string): HistoryEntry[] {
  const commits = commitInfo(entries.flatMap((e) => (e.gitCommit ? [e.gitCommit] : [])), cwd);
  return entries.map((e) => {
    const info = e.gitCommit ? commits.get(e.gitCommit) : undefined;
    return {
      revision: e.revision,
      at: e.at,
      actor: e.actor,
      via: e.via,
      ...(e.gitCommit ? { gitCommit: e.gitCommit } : {}),
      ...(e.gitDirty !== undefined ? { gitDirty: e.gitDirty } : {}),
      ...(info ? { commitAuthor: info.author, commitSubject: info.subject } : {}),
      ...(e.planDigest ? { planDigest: e.planDigest } : {}),
      summary: summaryOf(e),
      changes: e.changes.map((c) => ({ action: c.action, kind: c.kind, id: c.id })),
    };
  });
}

/** A table, newest first: `REV  TIME  ACTOR  VIA  COMMIT  SUMMARY`; a dirty tree's commit is marked `+dirty`. */
export function renderHistoryText(entries: readonly HistoryEntry[]): string {
  if (entries.length === 0) return 'No change sets yet.\n';
  const rows = [
    ['REV', 'TIME (UTC)', 'ACTOR', 'VIA', 'COMMIT', 'SUMMARY'],
    ...entries.map((e) => [
      String(e.revision),
      e.at.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      e.actor,
      e.via,
      e.gitCommit ? `${e.gitCommit.slice(0, 12)}${e.gitDirty ? '+dirty' : ''}` : '-',
      `${e.summary}${e.commitSubject !== undefined ? ` — "${e.commitSubject}" by ${e.commitAuthor}` : ''}`,
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return `${rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : i === 0 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ')).join('\n')}\n`;
}

export async function historyCommand(options: HistoryCommandOptions, io: CliIo): Promise<number> {
  const limit = Number(options.limit ?? 20);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new CliError(`--limit: '${options.limit}' is not a number from 1 to 10000`);
  const client = await openRuntime(options, io.env, io.cwd);
  let entries: AuditEntry[];
  try {
    entries = await client.audit({ limit, ...(options.via ? { via: options.via } : {}) });
  } finally {
    await client.close();
  }
  const history = historyEntries(entries, io.cwd);
  io.stdout.write(options.format === 'json' ? `${JSON.stringify(history, null, 2)}\n` : renderHistoryText(history));
  return 0;
}
