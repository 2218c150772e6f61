/**
 * One run of a user import against the runtime: read everything first, then commit ONE change
 * set (or nothing).
 *
 *   1. snapshot the import and its company from the live state;
 *   2. read the whole source (LDAP paged search); any error or timeout → the run fails, nothing
 *      is written;
 *   3. plan (user-import.ts); refuse when unsafe (zero entries, too many removals);
 *   4. no change → nothing is written at all (no empty change set, no revision bump);
 *      `dryRun` → the changes are returned, nothing is written;
 *   5. otherwise commit one change set `origin.via: 'sync'`, actor `import:<name>`, against the
 *      revision of the snapshot (a concurrent commit makes it stale: the run re-plans once).
 *
 * Each run is recorded (start, end, counts, outcome) in `<dataDir>/sync/<kind>-<id>.json`,
 * with the identifier → username map the next run matches entries with. The record is written
 * after the commit: if it is lost, the next run matches by username, which converges the same.
 *
 * Secrets: the LDAP password is decrypted here from the runtime's store with the runtime's key
 * (the only place outside runtime.ts that does) and is only ever handed to the LDAP client.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { compileDialPlan, isCompiled, resolveDialPlan, type CompiledDialPlan, type DialPlanInput } from '../dialplan/index.js';
import type { KindName } from '../model/kinds.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Change, LiveResource } from '../runtime/types.js';
import { domainDialDefaults } from '../validate/dialplan-rules.js';
import { LdapError, ldapSearchAll, type LdapConnection, type LdapEntry, type LdapSearch } from './ldap.js';
import { assessSafety, attributesOf, importManager, importSettings, planUserImport, resolveMapping, sourceUsers, type ImportCounts, type ImportNote } from './user-import.js';

/** The record of one run, as `switchboard sync run` prints it and the engine status shows it. */
export interface RunRecord {
  readonly kind: 'UserImport' | 'Directory';
  readonly id: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly dryRun: boolean;
  /** `applied`: committed; `unchanged`: nothing to write; `dry-run`; `refused`: unsafe; `failed`: source or commit error. */
  readonly outcome: 'applied' | 'unchanged' | 'dry-run' | 'refused' | 'failed';
  readonly message?: string;
  readonly sourceEntries: number;
  readonly managed: number;
  readonly counts: ImportCounts;
  readonly revision?: number;
  /** Notes (skipped entries, left-alone users, values left out); at most 200 kept, the last saying how many more there were. */
  readonly notes: readonly ImportNote[];
  /** The change set that was (or, dry run / refused, would have been) committed. */
  readonly changes?: readonly Change[];
}

interface SyncStateFile {
  identifiers: Record<string, string>;
  runs: RunRecord[];
}

const KEEP_RUNS = 20;
/** Notes a run record keeps. */
export const KEEP_NOTES = 200;

/** The notes a record keeps: the first {@link KEEP_NOTES}, the last of them saying how many more there were. */
export function keptNotes(notes: readonly ImportNote[]): readonly ImportNote[] {
  if (notes.length <= KEEP_NOTES) return notes;
  return [...notes.slice(0, KEEP_NOTES - 1), { level: 'warning', message: `${notes.length - KEEP_NOTES + 1} more notes not kept` }];
}
const ZERO: ImportCounts = { created: 0, updated: 0, disabled: 0, deleted: 0, ignored: 0, errors: 0, unchanged: 0 };

export function stateFile(dataDir: string, kind: KindName, id: string): string {
  return path.join(dataDir, 'sync', `${kind}-${encodeURIComponent(id)}.json`);
}

export function readSyncState(dataDir: string, kind: KindName, id: string): SyncStateFile {
  try {
    const s = JSON.parse(readFileSync(stateFile(dataDir, kind, id), 'utf8')) as Partial<SyncStateFile>;
    return { identifiers: s.identifiers ?? {}, runs: s.runs ?? [] };
  } catch {
    return { identifiers: {}, runs: [] };
  }
}

function writeSyncState(dataDir: string, kind: KindName, id: string, s: SyncStateFile): void {
  const file = stateFile(dataDir, kind, id);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(s), { mode: 0o600 });
  renameSync(tmp, file);
}

/** Record a finished run (the last runs are kept) and return it; its change set is not stored. */
export function recordRun(dataDir: string, record: RunRecord, identifiers?: Record<string, string>): RunRecord {
  const state = readSyncState(dataDir, record.kind, record.id);
  const { changes: _omit, ...kept } = record;
  void _omit;
  writeSyncState(dataDir, record.kind, record.id, { identifiers: identifiers ?? state.identifiers, runs: [...state.runs, kept].slice(-KEEP_RUNS) });
  return record;
}

/** The last runs of a sync, newest first. */
export function runHistory(dataDir: string, kind: KindName, id: string): RunRecord[] {
  return [...readSyncState(dataDir, kind, id).runs].reverse();
}

/** The compiled dial plan of a domain from the live state (its DialPlan, else its basics with no rules). */
export function liveDialPlan(resources: readonly LiveResource[], domain: string): CompiledDialPlan | undefined {
  const plan = resources.find((r) => r.kind === 'DialPlan' && r.id === domain);
  const dom = resources.find((r) => r.kind === 'Domain' && r.id === domain);
  const compiled = compileDialPlan(resolveDialPlan((plan?.body ?? {}) as DialPlanInput, domainDialDefaults(dom?.body as Record<string, unknown> | undefined)));
  return isCompiled(compiled) ? compiled : undefined;
}

export interface RunOptions {
  readonly dryRun?: boolean;
  /** Largest share of managed users a run may delete or disable, percent (default 30). */
  readonly maxRemovePercent?: number;
  /** Replace the LDAP read (tests); default: ldapSearchAll. */
  readonly search?: (conn: LdapConnection, search: LdapSearch) => Promise<LdapEntry[]>;
  readonly tlsOptions?: LdapConnection['tlsOptions'];
  readonly now?: () => Date;
}

export class SyncError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SyncError';
  }
}

/** Run the user import `id` (`company/domain/name`) once. Never throws for source problems: the record says what happened. */
/** User-import sources this runtime reads (an `a5000` import is stored, never run). */
export const IMPORTED_SOURCES = ['ldap', 'activeDirectory'] as const;

/** Does this runtime run imports of `source`? The sync-schedules engine's impact asks the same. */
export const importsSource = (source: unknown): boolean => (IMPORTED_SOURCES as readonly unknown[]).includes(source);

export async function runUserImport(rt: Runtime, id: string, options: RunOptions = {}): Promise<RunRecord> {
  const now = options.now ?? (() => new Date());
  const startedAt = now().toISOString();
  const imp = rt.get('UserImport', id);
  if (!imp) throw new SyncError(`no UserImport '${id}' in the runtime at ${rt.dataDir}: apply the configuration first`);
  const base = { kind: 'UserImport' as const, id, startedAt, dryRun: options.dryRun === true };
  const finish = (r: Omit<RunRecord, 'kind' | 'id' | 'startedAt' | 'endedAt' | 'dryRun'>, identifiers?: Record<string, string>): RunRecord => {
    const record: RunRecord = { ...base, endedAt: now().toISOString(), ...r, notes: keptNotes(r.notes) };
    const state = readSyncState(rt.dataDir, 'UserImport', id);
    const { changes: _omit, ...kept } = record;
    void _omit;
    writeSyncState(rt.dataDir, 'UserImport', id, { identifiers: identifiers ?? state.identifiers, runs: [...state.runs, kept].slice(-KEEP_RUNS) });
    return record;
  };
  if (!importsSource(imp.body.source)) {
    return finish({ outcome: 'failed', message: `${imp.body.source === 'a5000' ? 'A5000 INT' : String(imp.body.source)} imports are not supported by this runtime: only ${IMPORTED_SOURCES.join(' and ')}`, sourceEntries: 0, managed: 0, counts: ZERO, notes: [] });
  }
  const c = (imp.body.connection ?? {}) as Record<string, unknown>;
  if (typeof c.host !== 'string' || typeof c.baseDn !== 'string') {
    return finish({ outcome: 'failed', message: `UserImport '${id}' has no connection.host or connection.baseDn`, sourceEntries: 0, managed: 0, counts: ZERO, notes: [] });
  }
  const mapping = resolveMapping(String(imp.body.source), imp.body.mapping as Record<string, unknown> | undefined);
  const { attributes, binary } = attributesOf(mapping);
  const password = rt.secret('UserImport', id, ['connection', 'password']);
  const conn: LdapConnection = {
    host: c.host,
    ...(typeof c.port === 'number' ? { port: c.port } : {}),
    tls: (c.tls as LdapConnection['tls']) ?? 'none',
    ...(typeof c.login === 'string' ? { login: c.login } : {}),
    ...(password !== undefined ? { password } : {}),
    timeoutMs: (typeof c.timeoutSeconds === 'number' ? c.timeoutSeconds : 30) * 1000,
    ...(options.tlsOptions ? { tlsOptions: options.tlsOptions } : {}),
  };
  const search: LdapSearch = {
    baseDn: c.baseDn,
    ...(typeof c.filter === 'string' ? { filter: c.filter } : {}),
    attributes,
    binaryAttributes: binary,
    pageSize: typeof c.pageSize === 'number' ? c.pageSize : 0,
    sizeLimit: typeof c.sizeLimit === 'number' ? c.sizeLimit : 0,
  };
  // Read everything first: any LDAP error or timeout ends the run here, before any write.
  let entries: LdapEntry[];
  try {
    entries = await (options.search ?? ldapSearchAll)(conn, search);
  } catch (e) {
    const message = e instanceof LdapError ? e.message : `reading the source failed: ${(e as Error).message}`;
    return finish({ outcome: 'failed', message: `${message}; nothing was changed`, sourceEntries: 0, managed: 0, counts: ZERO, notes: [] });
  }
  const source = sourceUsers(entries, mapping);
  const known = readSyncState(rt.dataDir, 'UserImport', id).identifiers;
  const company = String(imp.body.domain).split('/')[0]!;

  for (let attempt = 0; ; attempt++) {
    const state = rt.state({ company });
    const settings = importSettings(imp, imp.body.adaptNumbersToDialPlan === true ? liveDialPlan(state.resources, String(imp.body.domain)) : undefined);
    if (imp.body.adaptNumbersToDialPlan === true && !settings.dialPlan) {
      return finish({ outcome: 'failed', message: `the dial plan of ${String(imp.body.domain)} does not compile, so numbers cannot be adapted; nothing was changed`, sourceEntries: entries.length, managed: 0, counts: ZERO, notes: [] });
    }
    const plan = planUserImport(settings, source, state.resources, known);
    const summary = { sourceEntries: plan.sourceEntries, managed: plan.managed, counts: plan.counts, notes: plan.notes };
    const unsafe = assessSafety(plan, options.maxRemovePercent ?? 30);
    if (unsafe) return finish({ outcome: 'refused', message: unsafe, ...summary, changes: plan.changes });
    if (options.dryRun) return finish({ outcome: 'dry-run', ...summary, changes: plan.changes });
    if (plan.changes.length === 0) return finish({ outcome: 'unchanged', ...summary, revision: state.revision }, plan.identifiers);
    const result = rt.apply({
      baseRevision: state.revision,
      changes: plan.changes,
      origin: { via: 'sync', actor: importManager(settings), summary: `user import ${id}: ${describe(plan.counts)}` },
    });
    if (result.ok) return finish({ outcome: 'applied', ...summary, revision: result.revision, changes: plan.changes }, plan.identifiers);
    if (result.code === 'stale' && attempt === 0) continue;
    const detail = result.problems.slice(0, 5).map((p) => p.message).join('; ');
    return finish({ outcome: 'failed', message: `the runtime refused the change set (${result.code}): ${result.message}${detail ? ` — ${detail}` : ''}; nothing was changed`, ...summary, changes: plan.changes });
  }
}

export function describe(c: ImportCounts): string {
  return `${c.created} created, ${c.updated} updated, ${c.disabled} disabled, ${c.deleted} deleted, ${c.ignored} ignored, ${c.errors} errors`;
}
