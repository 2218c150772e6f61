/**
 * `switchboard sync run NAME`: run one user import or directory now, against the
 * embedded runtime of a data directory. `--dry-run` prints the changes and writes nothing.
 * Exit 0 when the run applied, found nothing to change or was a dry run; 1 when it was
 * refused as unsafe or failed (nothing was changed then).
 */
import { Runtime } from '../runtime/runtime.js';
import type { Change } from '../runtime/types.js';
import { runDirectory } from '../sync/directory-run.js';
import { describe, runUserImport, SyncError, type RunRecord } from '../sync/run.js';
import type { CliIo } from './main.js';

export interface SyncRunOptions {
  readonly dataDir: string;
  readonly dryRun?: boolean;
  readonly maxRemovePercent?: string;
  readonly format: 'text' | 'json';
  /** The folder CSV directories are read from (default: the runtime's, DATA_DIR/files). */
  readonly filesDir?: string;
}

type SyncKind = 'UserImport' | 'Directory';

/**
 * The import or directory a NAME designates: `UserImport/…` or `Directory/…` (then the rest is
 * resolved among that kind only), a full id, or a name unique among imports and directories.
 */
function resolveName(rt: Runtime, name: string): { kind: SyncKind; id: string } {
  const prefixed = /^(UserImport|Directory)\/(.+)$/.exec(name);
  const kinds: SyncKind[] = prefixed ? [prefixed[1] as SyncKind] : ['UserImport', 'Directory'];
  const rest = prefixed ? prefixed[2]! : name;
  const exact = kinds.filter((k) => rt.get(k, rest));
  if (exact.length === 1) return { kind: exact[0]!, id: rest };
  const hits =
    exact.length > 1
      ? exact.map((k) => ({ kind: k, id: rest }))
      : rt
          .state()
          .resources.filter((r) => (kinds as string[]).includes(r.kind) && (r.body.name === rest || r.id.endsWith(`/${rest}`)))
          .map((r) => ({ kind: r.kind as SyncKind, id: r.id }));
  if (hits.length === 1) return hits[0]!;
  if (hits.length > 1) {
    const both = new Set(hits.map((h) => h.kind)).size > 1;
    throw new SyncError(
      `'${name}' names ${hits.length} ${both ? 'user imports and directories' : hits[0]!.kind === 'UserImport' ? 'user imports' : 'directories'} (${hits.map((h) => `${h.kind}/${h.id}`).join(', ')}): give ${both ? 'UserImport/NAME or Directory/NAME, or ' : ''}company/domain/name`,
    );
  }
  const what = prefixed ? (prefixed[1] === 'UserImport' ? 'user import' : 'directory') : 'user import or directory';
  throw new SyncError(`no ${what} '${rest}' in the runtime: apply the configuration first, or give company/domain/name`);
}

export async function syncRunCommand(name: string, opts: SyncRunOptions, io: CliIo): Promise<number> {
  const max = opts.maxRemovePercent === undefined ? undefined : Number(opts.maxRemovePercent);
  if (max !== undefined && !(max >= 0 && max <= 100)) {
    io.stderr.write(`switchboard: --max-remove-percent must be a number from 0 to 100\n`);
    return 2;
  }
  const rt = await Runtime.open(opts.dataDir, { startEngines: false, ...(opts.filesDir ? { filesDir: opts.filesDir } : {}) });
  try {
    let record: RunRecord;
    try {
      const { kind, id } = resolveName(rt, name);
      const runOptions = { dryRun: opts.dryRun === true, ...(max !== undefined ? { maxRemovePercent: max } : {}) };
      record = kind === 'UserImport' ? await runUserImport(rt, id, runOptions) : await runDirectory(rt, id, runOptions);
    } catch (e) {
      if (e instanceof SyncError) {
        io.stderr.write(`switchboard: ${e.message}\n`);
        return 1;
      }
      throw e;
    }
    if (opts.format === 'json') io.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
    else io.stdout.write(renderRun(record));
    return record.outcome === 'refused' || record.outcome === 'failed' ? 1 : 0;
  } finally {
    await rt.close();
  }
}

const SYMBOL: Record<Change['action'], string> = { create: '+', update: '~', delete: '-' };

/** A run as text: outcome line, counts, the changes (dry run / refused), notes. */
export function renderRun(r: RunRecord): string {
  const lines: string[] = [];
  const what = `${r.kind === 'UserImport' ? 'user import' : 'directory'} ${r.id}`;
  const head: Record<RunRecord['outcome'], string> = {
    applied: `${what}: applied at revision ${r.revision}`,
    unchanged: `${what}: no changes, nothing written`,
    'dry-run': `${what}: dry run, nothing written`,
    refused: `${what}: REFUSED, nothing changed`,
    failed: `${what}: FAILED, nothing changed`,
  };
  lines.push(head[r.outcome]);
  if (r.message) lines.push(`  ${r.message}`);
  lines.push(`  source entries: ${r.sourceEntries}, managed before: ${r.managed}`);
  lines.push(`  ${describe(r.counts)}, ${r.counts.unchanged} unchanged`);
  if (r.changes && (r.outcome === 'dry-run' || r.outcome === 'refused')) {
    for (const c of r.changes) lines.push(`  ${SYMBOL[c.action]} ${c.kind} ${c.id}`);
  }
  const notes = r.notes.slice(0, 50);
  for (const n of notes) lines.push(`  ${n.level}: ${n.message}`);
  if (r.notes.length > notes.length) lines.push(`  … ${r.notes.length - notes.length} more notes (--format json)`);
  lines.push(`  ${r.startedAt} → ${r.endedAt}`);
  return `${lines.join('\n')}\n`;
}

export interface LookupOptions {
  readonly dataDir: string;
  readonly domain: string;
  readonly format: 'text' | 'json';
}

/** `switchboard lookup NUMBER --domain C/D`: who is calling, through the domain's incoming dial plan. Exit 1 when nobody matches. */
export async function lookupCommand(number: string, opts: LookupOptions, io: CliIo): Promise<number> {
  const { liveDialPlan } = await import('../sync/run.js');
  const { lookupCaller } = await import('../sync/lookup.js');
  const rt = await Runtime.open(opts.dataDir, { startEngines: false });
  try {
    const company = opts.domain.split('/')[0]!;
    const state = rt.state({ company });
    if (!state.resources.some((r) => r.kind === 'Domain' && r.id === opts.domain)) {
      io.stderr.write(`switchboard: no domain '${opts.domain}' in the runtime at ${rt.dataDir}\n`);
      return 1;
    }
    const compiled = liveDialPlan(state.resources, opts.domain);
    if (!compiled) {
      io.stderr.write(`switchboard: the dial plan of ${opts.domain} does not compile: run switchboard validate\n`);
      return 1;
    }
    const result = lookupCaller(compiled, state.resources, opts.domain, number);
    if (opts.format === 'json') io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else if (result.key === null) io.stdout.write(`${number}: cannot be translated by the incoming dial plan of ${opts.domain}\n`);
    else if (result.matches.length === 0) io.stdout.write(`${number}: nobody (lookup key ${result.key})\n`);
    else for (const m of result.matches) io.stdout.write(`${number}: ${m.name}${m.vip ? ' [VIP]' : ''} — ${m.kind} ${m.id}, ${m.field} ${m.number ?? '(number hidden: red list)'} (${m.source}; lookup key ${result.key})\n`);
    return result.matches.length > 0 ? 0 : 1;
  } finally {
    await rt.close();
  }
}

export interface StatusOptions {
  readonly dataDir: string;
  readonly format: 'text' | 'json';
  /** A running `switchboard serve` (else SWITCHBOARD_RUNTIME; else the data directory). */
  readonly runtime?: string;
}

/** The status of a running server, as its engines report it (`GET /v1/status`). */
async function remoteStatus(url: string, opts: StatusOptions, io: CliIo): Promise<number> {
  const { connectRuntime } = await import('../runtime/http-client.js');
  const client = await connectRuntime(url, io.env.SWITCHBOARD_TOKEN ?? '');
  try {
    const status = await client.status();
    if (opts.format === 'json') {
      io.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      return 0;
    }
    const lines = [`runtime ${client.location} at revision ${status.revision}`, 'engines:'];
    for (const e of status.engines) lines.push(`  ${e.name}: ${e.state}${e.message ? ` (${e.message})` : ''}${e.restarts > 0 ? `, ${e.restarts} restarts` : ''}`);
    for (const [engine, key, title] of [['user-import', 'imports', 'user imports'], ['directory-sync', 'directories', 'directories']] as const) {
      const items = (status.engines.find((e) => e.name === engine)?.details?.[key] ?? []) as { id: string; schedule?: { mode?: string; at?: string; every?: string }; nextRun?: string; running?: boolean; lastRun?: { outcome: string; startedAt: string; endedAt: string; message?: string } }[];
      if (items.length === 0) continue;
      lines.push(`${title}:`);
      for (const i of items) {
        const sched = i.schedule?.mode === 'daily' ? `daily${i.schedule.at ? ` at ${i.schedule.at}` : ', not scheduled'}` : i.schedule?.mode === 'interval' ? `every ${String(i.schedule.every)}` : (i.schedule?.mode ?? 'manual');
        const last = i.lastRun ? `last run ${i.lastRun.outcome} ${i.lastRun.startedAt} → ${i.lastRun.endedAt}${i.lastRun.message ? ` — ${i.lastRun.message}` : ''}` : 'never run';
        lines.push(`  ${i.id} (${sched}${i.nextRun ? `, next ${i.nextRun}` : ''}${i.running ? ', running' : ''}): ${last}`);
      }
    }
    lines.push('links: switchboard status links; extensions: switchboard status extensions');
    io.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    await client.close();
  }
}

/**
 * `switchboard status`: the runtime's revision, its engines, and each user import's (and directory's) schedule
 * and last run (start, end, outcome, counts) — read from the run records, so runs made by
 * `switchboard sync run` and by a serving runtime's engine both show.
 */
export async function statusCommand(opts: StatusOptions, io: CliIo): Promise<number> {
  const url = opts.runtime ?? io.env.SWITCHBOARD_RUNTIME;
  if (url) return remoteStatus(url, opts, io);
  const { runHistory, describe: counts } = await import('../sync/run.js');
  const rt = await Runtime.open(opts.dataDir, { startEngines: false });
  try {
    const status = rt.status();
    const { scheduleOf } = await import('../runtime/engines/sync-schedules.js');
    const resources = rt.state().resources;
    const parameters = resources.filter((r) => r.kind === 'ApplicationParameter');
    const syncs = (kind: 'UserImport' | 'Directory') => resources
      .filter((r) => r.kind === kind)
      .map((r) => {
        const last = runHistory(rt.dataDir, kind, r.id)[0];
        const { changes: _c, notes: _n, ...lastRun } = last ?? ({} as Partial<RunRecord>);
        void _c;
        void _n;
        return { id: r.id, schedule: scheduleOf(r, parameters), ...(last ? { lastRun } : {}) };
      });
    const imports = syncs('UserImport');
    const directories = syncs('Directory');
    if (opts.format === 'json') {
      io.stdout.write(`${JSON.stringify({ ...status, imports, directories }, null, 2)}\n`);
      return 0;
    }
    const lines = [`runtime ${rt.dataDir} at revision ${status.revision}`, 'engines:'];
    for (const e of status.engines) lines.push(`  ${e.name}: ${e.state}${e.message ? ` (${e.message})` : ''}`);
    lines.push(imports.length === 0 ? 'user imports: none' : 'user imports:');
    const list = (items: typeof imports) => items.map((i) => {
      const s = i.schedule;
      const sched =
        s.mode === 'daily'
          ? s.at !== undefined
            ? `daily at ${s.at}${s.atFrom ? ` (${s.atFrom})` : ''}`
            : 'daily, not scheduled: no at and no timeSynchronizationDirectories parameter'
          : s.mode === 'interval'
            ? `every ${String(s.every)}`
            : s.mode;
      const last = i.lastRun as Partial<RunRecord> | undefined;
      return `  ${i.id} (${sched}): ${last && last.counts ? `last run ${last.outcome} ${last.startedAt} → ${last.endedAt}: ${counts(last.counts)}${last.message ? ` — ${last.message}` : ''}` : 'never run'}`;
    });
    lines.push(...list(imports));
    if (directories.length > 0) lines.push('directories:', ...list(directories));
    io.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    await rt.close();
  }
}
