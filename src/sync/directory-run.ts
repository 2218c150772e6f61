/**
 * One run of a directory synchronization (manual §8) against the runtime: read everything
 * first, then commit ONE change set of `Contact` creates/updates/deletes (or nothing), owned
 * by `directory:<name>`, `origin.via: 'sync'`. The same safety as user imports (run.ts):
 *
 * - the directory's source returns zero entries → refused, nothing changed;
 * - the run would delete more than the threshold share (default 30%) of the contacts the
 *   directory manages → refused, nothing changed;
 * - any read error (LDAP error or timeout, missing CSV file, bad field expression) → failed,
 *   nothing changed; a refused change set → failed, nothing changed;
 * - `dryRun` → the changes are returned, nothing is written;
 * - no change → nothing is written at all (no change set, no revision, no audit entry).
 *
 * Values the source holds but a contact cannot (an e-mail that is not an address, a picture too
 * large, …) are left out with a warning in the record; the rest of the entry is stored. A
 * malformed CSV file (a row shifted by a stray quote, bytes that are not in the declared
 * encoding) fails the run as a whole: nothing is changed.
 *
 * Identity: a contact's id is its directory and stable identifier. When a desired contact has
 * no live contact of its id, but exactly one managed contact left over by the run reads the same
 * except for how its non-ASCII characters were decoded (the directory's `encoding` was wrong and
 * is now corrected), that contact is updated in place — it keeps its id — instead of being
 * deleted and created again.
 *
 * Merge (§8.2.2): the run of a merge-flagged directory reads every merge-flagged directory of
 * its domain (all of them, before any write), merges contacts sharing an e-mail, and keeps the
 * contacts this directory wins (lowest priority). Each directory's run manages only its own
 * contacts, so a merged contact is owned by the directory with the lowest priority.
 *
 * Records: `<dataDir>/sync/Directory-<id>.json`, like imports.
 */
import { createHash } from 'node:crypto';
import { controlCharacter } from '../model/field-checks.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Change, LiveResource } from '../runtime/types.js';
import { sameJson } from '../runtime/engines/util.js';
import { contactsOf, mergeContacts, PHONE_FIELDS, readCsvDirectory, readLdapDirectory, type ContactRecord, type PhoneField, type SourceRead } from './directory.js';
import type { LdapConnection } from './ldap.js';
import { describe, keptNotes, recordRun, SyncError, type RunOptions, type RunRecord } from './run.js';
import type { ImportCounts, ImportNote } from './user-import.js';

type Body = Readonly<Record<string, unknown>>;

export interface DirectoryRunOptions extends Pick<RunOptions, 'dryRun' | 'maxRemovePercent' | 'tlsOptions' | 'now'> {
  /** The folder CSV `connection.path`s are read from, and confined to (default: the runtime's `files/` folder). */
  readonly filesDir?: string;
}

/** Server types this runtime reads (the others are stored, never synchronized). */
export const SYNCHRONIZED_SERVER_TYPES = ['LDAP', 'CSV'] as const;
const SUPPORTED: ReadonlySet<string> = new Set(SYNCHRONIZED_SERVER_TYPES);

/** Does this runtime synchronize directories of `serverType`? The sync-schedules engine's impact asks the same. */
export const synchronizes = (serverType: unknown): boolean => SUPPORTED.has(String(serverType));
const IDENTIFIER = /^[^/\s][^/]*$/;

export const directoryManager = (name: string): `directory:${string}` => `directory:${name}`;

/** The stored identifier of a contact: its stable identifier, or a digest of it when it cannot be part of an id (a `/`, a leading space, a control character, over 128 characters). */
export function contactIdentifier(identifier: string): string {
  return IDENTIFIER.test(identifier) && identifier.length <= 128 && !controlCharacter(identifier) ? identifier : createHash('sha256').update(identifier, 'utf8').digest('hex').slice(0, 32);
}

/** The `Contact` body of a synchronized contact. */
export function contactBody(domain: string, c: ContactRecord): Record<string, unknown> {
  const name = c.directory.slice(domain.length + 1);
  return {
    domain,
    directory: name,
    identifier: contactIdentifier(c.identifier),
    ...(c.priority !== Number.MAX_SAFE_INTEGER ? { priority: c.priority } : {}),
    fields: Object.fromEntries(Object.entries(c.fields).filter(([, v]) => v !== '')),
    ...(c.additionalPhones && Object.keys(c.additionalPhones).length > 0 ? { additionalPhones: c.additionalPhones } : {}),
    ...(c.hidden.length > 0 ? { hidden: [...c.hidden] } : {}),
    ...(c.invisible.length > 0 ? { invisible: [...c.invisible] } : {}),
    ...(c.address.length > 0 ? { address: [...c.address] } : {}),
    ...(c.vip ? { vip: true } : {}),
    ...(c.sources.length > 1 ? { sources: c.sources.map((s) => s.slice(domain.length + 1)) } : {}),
  };
}

/** A stored `Contact` as the lookup's ContactRecord. */
export function contactRecordOf(r: LiveResource): ContactRecord {
  const b = r.body;
  const domain = String(b.domain);
  const list = (v: unknown) => (Array.isArray(v) ? (v as string[]) : []);
  const more = (b.additionalPhones ?? {}) as Record<string, unknown>;
  const additionalPhones = Object.fromEntries(PHONE_FIELDS.filter((p) => list(more[p]).length > 0).map((p) => [p, list(more[p])])) as Partial<Record<PhoneField, string[]>>;
  return {
    directory: `${domain}/${String(b.directory)}`,
    priority: typeof b.priority === 'number' ? b.priority : Number.MAX_SAFE_INTEGER,
    identifier: String(b.identifier),
    fields: (b.fields ?? {}) as Record<string, string>,
    ...(Object.keys(additionalPhones).length > 0 ? { additionalPhones } : {}),
    hidden: list(b.hidden),
    invisible: list(b.invisible),
    address: list(b.address),
    vip: b.vip === true,
    sources: list(b.sources).length > 0 ? list(b.sources).map((s) => `${domain}/${s}`) : [`${domain}/${String(b.directory)}`],
  };
}

async function readRows(rt: Runtime, d: LiveResource, options: DirectoryRunOptions): Promise<SourceRead> {
  const b = d.body;
  if (b.serverType === 'CSV') return readCsvDirectory(b, options.filesDir ?? rt.filesDir);
  const c = (b.connection ?? {}) as Record<string, unknown>;
  const extra: Partial<LdapConnection> = {
    tls: (c.tls as LdapConnection['tls'] | undefined) ?? 'none',
    timeoutMs: (typeof c.timeoutSeconds === 'number' ? c.timeoutSeconds : 30) * 1000,
    ...(options.tlsOptions ? { tlsOptions: options.tlsOptions } : {}),
  };
  return readLdapDirectory(b, rt.secret('Directory', d.id, ['connection', 'password']), extra);
}

export interface ContactPlan {
  readonly changes: readonly Change[];
  readonly counts: ImportCounts;
  readonly notes: readonly ImportNote[];
  readonly managed: number;
}

/**
 * A contact's fields with every run of non-ASCII characters replaced by one marker: the same
 * for `Müller`, `MÃ¼ller` (UTF-8 read as Windows-1252) and `M\uFFFDller` (Windows-1252 read
 * as UTF-8), since decoding never changes ASCII characters. Only used to pair a contact whose
 * id changed with the encoding with the contact it was.
 */
export function encodingInsensitiveKey(fields: Readonly<Record<string, unknown>>): string {
  return JSON.stringify(
    Object.keys(fields)
      .sort()
      .map((k) => [k, String(fields[k]).replace(/[^\x20-\x7e]+/g, '\u0000')]),
  );
}

/** Plan the contacts of directory `domain/name` (pure): desired contacts vs the live state. */
export function planContacts(domain: string, name: string, desired: readonly ContactRecord[], live: readonly LiveResource[]): ContactPlan {
  const manager = directoryManager(name);
  const counts: ImportCounts = { created: 0, updated: 0, disabled: 0, deleted: 0, ignored: 0, errors: 0, unchanged: 0 };
  const notes: ImportNote[] = [];
  const existing = new Map<string, LiveResource>();
  const others = new Map<string, LiveResource>();
  for (const r of live) {
    if (r.kind !== 'Contact' || r.body.domain !== domain || r.body.directory !== name) continue;
    (r.manager === manager ? existing : others).set(r.id, r);
  }
  const creates: { id: string; body: Record<string, unknown> }[] = [];
  const updates: Change[] = [];
  const deletes: Change[] = [];
  const seen = new Set<string>();
  const update = (current: LiveResource, body: Record<string, unknown>) => {
    if (sameJson(current.body, body)) counts.unchanged++;
    else {
      updates.push({ action: 'update', kind: 'Contact', id: current.id, body });
      counts.updated++;
    }
  };
  for (const c of desired) {
    const body = contactBody(domain, c);
    const id = `${domain}/${name}/${String(body.identifier)}`;
    if (seen.has(id)) {
      counts.ignored++;
      notes.push({ level: 'ignored', message: `contact ${c.identifier}: same stored identifier as another contact: skipped` });
      continue;
    }
    seen.add(id);
    const current = existing.get(id);
    if (current) update(current, body);
    else if (others.has(id)) {
      counts.ignored++;
      notes.push({ level: 'ignored', message: `Contact ${id} exists and is managed by ${others.get(id)!.manager}: the directory never touches it` });
    } else creates.push({ id, body });
  }
  // A contact to create and a managed one to delete that differ only by how their non-ASCII
  // characters were decoded are one contact whose directory's encoding was corrected.
  const leftovers = new Map<string, LiveResource[]>();
  const keyOf = (b: Readonly<Record<string, unknown>>) => encodingInsensitiveKey((b.fields ?? {}) as Record<string, unknown>);
  if (creates.length > 0) {
    for (const [id, r] of existing) {
      if (seen.has(id)) continue;
      const k = keyOf(r.body);
      leftovers.set(k, [...(leftovers.get(k) ?? []), r]);
    }
  }
  const createKeys = new Map<string, number>();
  const keys = leftovers.size > 0 ? creates.map((c) => keyOf(c.body)) : [];
  for (const k of keys) createKeys.set(k, (createKeys.get(k) ?? 0) + 1);
  const createChanges: Change[] = [];
  for (const [i, c] of creates.entries()) {
    const k = keys[i];
    const candidates = k === undefined ? undefined : leftovers.get(k);
    if (k !== undefined && candidates?.length === 1 && createKeys.get(k) === 1) {
      const was = candidates[0]!;
      seen.add(was.id);
      update(was, { ...c.body, identifier: was.body.identifier });
      continue;
    }
    createChanges.push({ action: 'create', kind: 'Contact', id: c.id, body: c.body, manager });
    counts.created++;
  }
  for (const id of existing.keys()) {
    if (seen.has(id)) continue;
    deletes.push({ action: 'delete', kind: 'Contact', id });
    counts.deleted++;
  }
  return { changes: [...deletes, ...createChanges, ...updates], counts, notes, managed: existing.size };
}

/** Run the directory `id` (`company/domain/name`) once. Never throws for source problems: the record says what happened. */
export async function runDirectory(rt: Runtime, id: string, options: DirectoryRunOptions = {}): Promise<RunRecord> {
  const now = options.now ?? (() => new Date());
  const startedAt = now().toISOString();
  const dir = rt.get('Directory', id);
  if (!dir) throw new SyncError(`no Directory '${id}' in the runtime at ${rt.dataDir}: apply the configuration first`);
  const zero: ImportCounts = { created: 0, updated: 0, disabled: 0, deleted: 0, ignored: 0, errors: 0, unchanged: 0 };
  const finish = (r: Omit<RunRecord, 'kind' | 'id' | 'startedAt' | 'endedAt' | 'dryRun'>): RunRecord =>
    recordRun(rt.dataDir, { kind: 'Directory', id, startedAt, dryRun: options.dryRun === true, endedAt: now().toISOString(), ...r, notes: keptNotes(r.notes) });
  const failed = (message: string, sourceEntries = 0) => finish({ outcome: 'failed', message, sourceEntries, managed: 0, counts: zero, notes: [] });
  const domain = String(dir.body.domain);
  const name = String(dir.body.name);
  if (dir.body.type === 'disabled') return failed(`Directory '${id}' is of type disabled: it is never synchronized; nothing was changed`);
  if (!SUPPORTED.has(String(dir.body.serverType))) return failed(`Directory '${id}': serverType ${String(dir.body.serverType)} is not supported by this runtime (LDAP and CSV are); nothing was changed`);

  // Read everything first: this directory and, when it merges, every merging directory of its domain.
  const company = domain.split('/')[0]!;
  const merge = dir.body.mergeContacts === true;
  const group = merge
    ? rt.state({ company }).resources.filter((r) => r.kind === 'Directory' && r.body.domain === domain && r.body.mergeContacts === true && r.body.type !== 'disabled' && SUPPORTED.has(String(r.body.serverType)))
    : [dir];
  const read: { d: LiveResource; contacts: ContactRecord[]; rows: number; skipped: number; duplicates: number; notes: ImportNote[]; empty?: string }[] = [];
  for (const d of group) {
    try {
      const source = await readRows(rt, d, options);
      const { contacts, skipped, duplicates, notes } = contactsOf(d.body as Body, source.rows);
      read.push({ d, contacts, rows: source.rows.length, skipped, duplicates, notes: [...source.notes, ...notes], ...(source.empty ? { empty: source.empty } : {}) });
    } catch (e) {
      const which = d.id === id ? 'reading the source' : `reading merged directory ${d.id}`;
      return failed(`${which} failed: ${(e as Error).message}; nothing was changed`);
    }
  }
  const own = read.find((r) => r.d.id === id)!;
  const all = merge ? mergeContacts(read.map((r) => ({ merge: true, contacts: r.contacts }))) : own.contacts;
  const key = `${domain}/${name}`;
  const desired = all.filter((c) => c.directory === key);
  const kept = new Set(desired.map((c) => c.identifier));
  const mergedAway = own.contacts.filter((c) => !kept.has(c.identifier)).length;
  const baseNotes: ImportNote[] = [...own.notes];
  if (own.skipped > 0) baseNotes.push({ level: 'ignored', message: `${own.skipped} source entries with no mapped field: skipped` });
  if (own.duplicates > 0) baseNotes.push({ level: 'ignored', message: `${own.duplicates} source entries repeat an identifier: skipped` });
  if (merge && mergedAway > 0) baseNotes.push({ level: 'warning', message: `${mergedAway} contacts merged into contacts of directories with a lower priority (they own them)` });

  for (let attempt = 0; ; attempt++) {
    const state = rt.state({ company });
    const plan = planContacts(domain, name, desired, state.resources);
    const counts = { ...plan.counts, ignored: plan.counts.ignored + own.skipped + own.duplicates };
    const summary = { sourceEntries: own.rows, managed: plan.managed, counts, notes: [...baseNotes, ...plan.notes] };
    const threshold = options.maxRemovePercent ?? 30;
    if (own.rows === 0) {
      return finish({ outcome: 'refused', message: `the source returned no entries${own.empty ? ` (${own.empty})` : ''}: a filter typo or a directory outage must not empty the directory, so nothing was changed (${plan.managed} contacts kept). Check the connection, base DN, filter or file.`, ...summary, changes: plan.changes });
    }
    if (plan.managed > 0 && plan.counts.deleted > 0 && (100 * plan.counts.deleted) / plan.managed > threshold) {
      const share = ((100 * plan.counts.deleted) / plan.managed).toFixed(1);
      return finish({ outcome: 'refused', message: `the run would delete ${plan.counts.deleted} of the ${plan.managed} contacts the directory manages (${share}%), over the ${threshold}% threshold: nothing was changed. Check the source; if this is intended, re-run with a higher --max-remove-percent.`, ...summary, changes: plan.changes });
    }
    if (options.dryRun) return finish({ outcome: 'dry-run', ...summary, changes: plan.changes });
    if (plan.changes.length === 0) return finish({ outcome: 'unchanged', ...summary, revision: state.revision });
    const result = rt.apply({
      baseRevision: state.revision,
      changes: plan.changes,
      origin: { via: 'sync', actor: directoryManager(name), summary: `directory ${id}: ${describe(counts)}` },
    });
    if (result.ok) return finish({ outcome: 'applied', ...summary, revision: result.revision, changes: plan.changes });
    if (result.code === 'stale' && attempt === 0) continue;
    const detail = result.problems.slice(0, 5).map((p) => p.message).join('; ');
    return finish({ outcome: 'failed', message: `the runtime refused the change set (${result.code}): ${result.message}${detail ? ` — ${detail}` : ''}; nothing was changed`, ...summary, changes: plan.changes });
  }
}
