/**
 * The live runtime: the store, the in-memory live state, change sets, ownership, secrets,
 * the audit log, committed-change events and the engine host (docs/runtime.md).
 *
 * Design notes:
 * - The whole live state is held in memory (a map per kind) and kept equal to the store: this
 *   process's commits update it directly; other processes' commits are noticed through
 *   `PRAGMA data_version` (polled, and checked before every read) and replayed from the audit
 *   log's `touched` list. Cached objects are immutable: a write replaces them, so a
 *   {@link LiveState} handed out earlier stays a consistent snapshot.
 * - A change set is checked in three steps — structure (kinds, ids, exists / not-found,
 *   ownership, principal scoping, secret fingerprints), then the invariants of the whole
 *   post-change state of the companies it touches (the schema of every resource written, and
 *   every cross-resource rule of `validate` — `checkRules` — over those companies: companies
 *   share nothing, so the others cannot change outcome; this is `checkResources` without
 *   re-validating the schema of resources that were validated when written), then written in
 *   ONE `BEGIN IMMEDIATE` transaction that re-checks the revision first. Checking happens
 *   outside the write lock against the snapshot at the base revision; if anyone commits
 *   meanwhile, the revision check in the transaction refuses the change set as stale.
 * - Secret values exist in clear only inside `apply` (to encrypt them and to re-check
 *   invariants) and are never put in a result, an audit entry, an event or a log line;
 *   problem messages are scrubbed of them as a last line of defence.
 */
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import type { NodePath, PendingDiagnostic } from '../diagnostics.js';
import { isKindName, kindInfo, KIND_NAMES, RUNTIME_ONLY_KINDS, type KindName } from '../model/kinds.js';
import { getPath, type Resource } from '../model/resource.js';
import { schemaRegistry } from '../schema/registry.js';
import { checkRules } from '../validate/rules.js';
import type { CommittedEvent, Principal, RuntimeCore } from './core.js';
import { loadOrCreateKey, SecretBox, secretSlots, SENSITIVE, withValues, type SecretSlot } from './crypto.js';
import { EngineHost, builtinEngines, type Engine, type EngineHostOptions } from './engines.js';
import { silentLog, type Log } from '../log.js';
import { JsonTooDeepError, MAX_JSON_DEPTH, tooDeepAt } from './json-depth.js';
import { EXTENSION_KINDS } from '../model/extensions.js';
import { licenceStatus, type LicenceStatus } from '../model/licences.js';
import { PbxLinksEngine, type ExtensionQuery, type ExtensionStatus, type LinkStatus } from './engines/pbx-links.js';
import { AuditEncoder, COMPRESS_ABOVE, DB_FILE, encodeAudit, jsonOf, Store, type AuditInput, type EncodedAudit, type ResourceRow } from './store.js';
import {
  isSecretFingerprint,
  type AuditEntry,
  type Change,
  type ChangeImpact,
  type ChangeProblem,
  type ChangeSet,
  type ChangeSetResult,
  type ChangeVia,
  type LiveResource,
  type LiveState,
  type Manager,
  type RefusalCode,
  type RuntimeStatus,
} from './types.js';

/** The runtime's log: {@link Log}. */
export type RuntimeLog = Log;

export interface RuntimeOptions {
  readonly log?: RuntimeLog;
  /**
   * The folder CSV directories read their files from, and are confined to (default:
   * `DATA_DIR/files`): a Directory's `connection.path` is relative to it.
   */
  readonly filesDir?: string;
  /** Engines to host; default: the built-in ones (`pbx-links`, `sync-schedules`, `user-import`). */
  readonly engines?: readonly Engine[];
  /**
   * Start the engines (default true). The embedded CLI runtime does not: engines belong to
   * the long-running `serve` process; its engines still answer `impact`.
   */
  readonly startEngines?: boolean;
  /** How often to look for other processes' commits (default 200 ms). */
  readonly pollIntervalMs?: number;
  /** SQLite busy timeout: how long a writer waits for another's lock (default 5 s). */
  readonly busyTimeoutMs?: number;
  readonly engineHost?: EngineHostOptions;
  /**
   * For tests only: `duringWrite` is called inside the write transaction every 1,000 rows
   * written (crash tests); `beforeWrite` after the checks, before the write transaction (to
   * commit from another process in between).
   */
  readonly testHooks?: { readonly duringWrite?: (rowsWritten: number) => void; readonly beforeWrite?: () => void };
}

/** The super user the runtime acts for when no principal is given (embedded CLI, engines). */
export const LOCAL_PRINCIPAL: Principal = Object.freeze({ username: 'local', superUser: true, companies: Object.freeze([]) as readonly string[] });

/** A resource's encrypted secret values, by path (`v1:…`, see crypto.ts). */
type Encrypted = readonly (readonly [NodePath, string])[];

/** A validated write waiting for the transaction. */
interface Write {
  readonly action: 'create' | 'update' | 'delete';
  readonly kind: KindName;
  readonly id: string;
  readonly company: string | undefined;
  /** The resource as it will be live; undefined for deletes. */
  readonly live: LiveResource | undefined;
  readonly encrypted: Encrypted | undefined;
  readonly bodyJson: string | undefined;
  readonly secretsJson: string | null;
  readonly before: LiveResource | undefined;
  readonly beforeEncrypted: Encrypted | undefined;
  /** Clear values at secret paths, only for the invariant check. */
  readonly clear: readonly (readonly [NodePath, string])[] | undefined;
}

/** The writes of a change set, and the same by kind and id (the last write of each resource; null: deleted). */
interface Prepared {
  readonly writes: readonly Write[];
  readonly overlay: ReadonlyMap<KindName, ReadonlyMap<string, Write | null>>;
  readonly companies: ReadonlySet<string | undefined>;
}

/** What a commit will record: revisions, time, who and how. */
interface CommitMeta {
  readonly base: number;
  readonly revision: number;
  readonly at: string;
  readonly actor: string;
  readonly via: ChangeVia;
}

class Refusal extends Error {
  constructor(readonly result: ChangeSetResult & { ok: false }) {
    super(result.message);
  }
}

const MANAGER = /^(config|api|(import|directory):.+)$/;
const NO_LIVE: ReadonlyMap<string, LiveResource> = new Map();
const VIA = new Set<ChangeVia>(['plan', 'api', 'sync']);
const SERVER_WIDE = new Set<KindName>(['Company', 'AdminAccount']);
/** Kinds whose rules reach across companies (connector names are unique server-wide). */
const CROSS_COMPANY = new Set<KindName>(['Company', 'AdminAccount', 'Connector']);
/** Which refusal code wins when problems of several codes are found. */
const CODE_ORDER: readonly RefusalCode[] = ['forbidden', 'not-found', 'exists', 'not-managed', 'invalid'];

/** The company a resource belongs to: Company → its name, AdminAccount → none, others → first id segment. */
export function companyOf(kind: KindName, id: string): string | undefined {
  if (kind === 'Company') return id;
  if (kind === 'AdminAccount') return undefined;
  const i = id.indexOf('/');
  return i < 0 ? id : id.slice(0, i);
}

export function canAccessCompany(principal: Principal, company: string | undefined): boolean {
  if (principal.superUser) return true;
  return company !== undefined && principal.companies.includes(company);
}

/**
 * The live runtime over one data directory. Open with {@link Runtime.open}; several processes
 * may open the same directory (SQLite serializes writers), but only one should `serve`
 * (`acquireServeLock` in embedded.ts).
 */
export class Runtime implements RuntimeCore {
  readonly dataDir: string;
  /** See {@link RuntimeOptions.filesDir}. */
  readonly filesDir: string;
  readonly #store: Store;
  readonly #box: SecretBox;
  readonly #log: RuntimeLog;
  /** The live state: immutable objects, replaced on write. */
  readonly #byKind = new Map<KindName, Map<string, LiveResource>>(KIND_NAMES.map((k) => [k, new Map()]));
  /** Encrypted secrets of the resources that have any, by kind then id. */
  readonly #encrypted = new Map<KindName, Map<string, Encrypted>>(KIND_NAMES.map((k) => [k, new Map()]));
  /** Kinds whose map is no longer in id order (sorted lazily when the state is read). */
  readonly #unsorted = new Set<KindName>();
  #revision = 0;
  #dataVersion = -1;
  readonly #listeners = new Set<(event: CommittedEvent) => void>();
  readonly #poll: NodeJS.Timeout;
  readonly #host: EngineHost;
  readonly #hooks: RuntimeOptions['testHooks'];
  readonly #auditEncoder = new AuditEncoder();
  #closed = false;

  private constructor(dataDir: string, options: RuntimeOptions) {
    this.dataDir = dataDir;
    this.filesDir = path.resolve(options.filesDir ?? path.join(dataDir, 'files'));
    this.#log = options.log ?? silentLog;
    this.#hooks = options.testHooks;
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.#box = new SecretBox(loadOrCreateKey(dataDir));
    const file = path.join(dataDir, DB_FILE);
    const fresh = !existsSync(file);
    this.#store = Store.open(file, { busyTimeoutMs: options.busyTimeoutMs });
    if (fresh && process.platform !== 'win32') chmodSync(file, 0o600);
    // data_version first: a commit landing during the load is then replayed by the next refresh.
    this.#dataVersion = this.#store.dataVersion();
    this.#store.readTransaction(() => this.#reloadAll());
    this.#poll = setInterval(() => {
      try {
        this.#refresh();
      } catch (e) {
        this.#log.error({ err: (e as Error).message }, 'reading other processes\u2019 changes failed');
      }
    }, options.pollIntervalMs ?? 200);
    this.#poll.unref();
    this.#host = new EngineHost(options.engines ?? builtinEngines(() => this), {
      log: this.#log,
      fingerprint: (v) => this.fingerprint(v),
      secret: (kind, id, field) => this.secret(kind, id, field),
      live: (kinds) => this.#liveOf(kinds),
      state: () => this.state(),
      ...options.engineHost,
    });
  }

  /** Open (creating on first use) the runtime over `dataDir` and start its engines. */
  static async open(dataDir: string, options: RuntimeOptions = {}): Promise<Runtime> {
    const rt = new Runtime(path.resolve(dataDir), options);
    rt.#log.info({ dataDir: rt.dataDir, revision: rt.#revision, resources: rt.#count() }, 'runtime opened');
    if (options.startEngines ?? true) await rt.#host.start();
    return rt;
  }

  /**
   * The underlying store, for the tables the runtime does not own (the HTTP server's tokens).
   * Never write `resources`, `audit` or `meta` through it: that bypasses every check.
   */
  get store(): Store {
    return this.#store;
  }

  // -------------------------------------------------------------------------------------
  // Reading

  revision(): number {
    this.#refresh();
    return this.#revision;
  }

  state(filter: { readonly company?: string; readonly principal?: Principal } = {}): LiveState {
    this.#refresh();
    const { company, principal } = filter;
    const all = company === undefined && (principal === undefined || principal.superUser);
    const resources: LiveResource[] = [];
    for (const kind of KIND_NAMES) {
      for (const e of this.#sorted(kind).values()) {
        if (all || this.#visible(companyOf(kind, e.id), company, principal)) resources.push(e);
      }
    }
    return { revision: this.#revision, resources };
  }

  get(kind: KindName, id: string): LiveResource | undefined {
    this.#refresh();
    return this.#byKind.get(kind)?.get(id);
  }

  fingerprint(values: readonly string[]): string[] {
    return values.map((v) => this.#box.fingerprint(v));
  }

  /**
   * The clear value of one secret field of a live resource (e.g. a link's password), for the
   * engines and sync runs that must send it to a PBX or directory. Never returned by any API.
   */
  secret(kind: KindName, id: string, field: readonly (string | number)[]): string | undefined {
    this.#refresh();
    const hit = this.#encrypted.get(kind)?.get(id)?.find(([p]) => p.length === field.length && p.every((x, i) => x === field[i]));
    return hit ? this.#box.decrypt(hit[1], `${kind}\0${id}`) : undefined;
  }

  companyOf(kind: KindName, id: string): string | undefined {
    return companyOf(kind, id);
  }

  canAccessCompany(principal: Principal, company: string | undefined): boolean {
    return canAccessCompany(principal, company);
  }

  /**
   * Committed change sets, newest first: `limit` (default 50) entries, only those after
   * `sinceRevision` and through `via` when given. A company admin sees only the changes of
   * their companies, and no entry that has none.
   */
  audit(query: { readonly limit?: number; readonly via?: ChangeVia; readonly sinceRevision?: number; readonly principal?: Principal } = {}): AuditEntry[] {
    const limit = Math.max(0, Math.min(query.limit ?? 50, 10_000));
    const principal = query.principal;
    const out: AuditEntry[] = [];
    let before: number | undefined;
    while (out.length < limit) {
      const rows = this.#store.auditPage({ limit: limit - out.length, ...(query.via ? { via: query.via } : {}), ...(query.sinceRevision !== undefined ? { sinceRevision: query.sinceRevision } : {}), ...(before !== undefined ? { beforeRevision: before } : {}) });
      if (rows.length === 0) break;
      for (const r of rows) {
        before = r.revision;
        let changes = JSON.parse(jsonOf(r.changes)) as AuditEntry['changes'];
        let partial = false;
        if (principal && !principal.superUser) {
          const visible = changes.filter((c) => canAccessCompany(principal, companyOf(c.kind, c.id)));
          if (visible.length === 0) continue;
          partial = visible.length < changes.length;
          changes = visible;
        }
        out.push({
          revision: r.revision,
          at: r.at,
          actor: r.actor,
          via: r.via as ChangeVia,
          ...(r.plan_digest !== null ? { planDigest: r.plan_digest } : {}),
          ...(r.git_commit !== null ? { gitCommit: r.git_commit } : {}),
          ...(r.git_dirty !== null ? { gitDirty: r.git_dirty === 1 } : {}),
          // A summary may describe other companies' changes: not shown with part of an entry.
          ...(r.summary !== null && !partial ? { summary: r.summary } : {}),
          changes,
        });
      }
    }
    return out;
  }

  status(principal?: Principal): RuntimeStatus {
    return { revision: this.revision(), engines: this.#host.status(principal ? (c) => canAccessCompany(principal, c) : undefined) };
  }

  /** The licence screen (§3.3.2): counted over exactly the resources `state(filter)` returns. */
  licences(filter: { readonly company?: string; readonly principal?: Principal } = {}): LicenceStatus[] {
    return licenceStatus(this.state(filter).resources);
  }

  /** Each PBX link's status (§10.4), as the running `pbx-links` engine sees it, else as configured. */
  links(principal?: Principal): LinkStatus[] {
    return this.#links().links(principal ? (c) => canAccessCompany(principal, c) : undefined);
  }

  /** The status of the configured extensions in a number range (§10.5). */
  extensions(query: ExtensionQuery = {}, principal?: Principal): ExtensionStatus[] {
    return this.#links().extensions(query, principal ? (c) => canAccessCompany(principal, c) : undefined);
  }

  #links(): PbxLinksEngine {
    const running = this.#host.running('pbx-links');
    if (running instanceof PbxLinksEngine) return running;
    this.#refresh();
    return PbxLinksEngine.offline(this.#liveOf(EXTENSION_KINDS));
  }

  impact(changes: readonly Change[]): ChangeImpact[] {
    changes.forEach((c, i) => {
      const tooDeep = c.action === 'delete' ? undefined : tooDeepAt(c.body, MAX_JSON_DEPTH);
      if (tooDeep) throw new JsonTooDeepError(`change ${i + 1}: the body of ${typeof c.kind === 'string' ? c.kind : 'a resource'}${typeof c.id === 'string' ? ` '${c.id}'` : ''}`, tooDeep);
    });
    this.#refresh();
    return this.#host.impact(changes, (kind, id) => this.#byKind.get(kind)?.get(id));
  }

  subscribe(listener: (event: CommittedEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // -------------------------------------------------------------------------------------
  // Writing

  apply(changeSet: ChangeSet, principal?: Principal): ChangeSetResult {
    try {
      return this.#apply(changeSet, principal);
    } catch (e) {
      if (e instanceof Refusal) {
        this.#log.info({ code: e.result.code, problems: e.result.problems.length, revision: e.result.revision }, 'change set refused');
        return e.result;
      }
      throw e;
    }
  }

  #apply(cs: ChangeSet, principal: Principal | undefined): ChangeSetResult {
    if (this.#closed) throw new Error('the runtime is closed');
    this.#refresh();
    const base = this.#revision;
    const refuse = (code: RefusalCode, message: string, problems: readonly ChangeProblem[] = [], revision = base): never => {
      throw new Refusal({ ok: false, code, message, revision, problems });
    };
    if (cs.baseRevision !== base) {
      refuse('stale', `the change set was planned against revision ${cs.baseRevision} but the live revision is ${base}: plan again`);
    }
    const via = cs.origin?.via;
    if (!VIA.has(via)) refuse('invalid', `origin.via must be plan, api or sync, not ${JSON.stringify(via)}`);
    const actor = principal?.username ?? cs.origin.actor ?? 'local';
    const meta: CommitMeta = { base, revision: base + 1, at: new Date().toISOString(), actor, via };
    const t0 = performance.now();
    const prepared = this.#prepare(cs, meta, principal, refuse);
    const { writes } = prepared;
    // Nothing to do is not a commit: the revision stays (a plan with no changes applies as a no-op).
    if (writes.length === 0) return { ok: true, revision: base, applied: 0 };
    // A large audit entry is encoded on a worker thread while the invariants are checked.
    const audit = writes.length >= AUDIT_OFF_THREAD ? this.#auditEncoder.start(auditInput(writes)) : undefined;
    const t1 = performance.now();
    const problems = this.#checkInvariants(prepared);
    if (problems.length > 0) {
      refuse('invalid', `the change set would break ${problems.length} invariant${problems.length === 1 ? '' : 's'} of the live state; nothing was applied`, problems);
    }
    const t2 = performance.now();
    this.#hooks?.beforeWrite?.();
    this.#write(cs, writes, meta, audit ? audit() : encodeAudit(auditInput(writes), deflateSync, COMPRESS_ABOVE), refuse);
    const t3 = performance.now();
    this.#commitToCache(writes, meta.revision);
    const { revision, at } = meta;
    const changes: CommittedEvent['changes'][number][] = new Array(writes.length);
    for (let i = 0; i < writes.length; i++) {
      const w = writes[i]!;
      changes[i] = w.company !== undefined ? { action: w.action, kind: w.kind, id: w.id, company: w.company } : { action: w.action, kind: w.kind, id: w.id };
    }
    const event: CommittedEvent = { revision, at, via, actor, changes };
    const ms = (x: number) => Math.round(x * 10) / 10;
    this.#log.info(
      { revision, via, actor, changes: writes.length, ms: { prepare: ms(t1 - t0), check: ms(t2 - t1), write: ms(t3 - t2), cache: ms(performance.now() - t3) } },
      'change set committed',
    );
    this.#emit(event);
    return { ok: true, revision, applied: writes.length };
  }

  /** Structural checks of every change, in order, against the state as the previous changes leave it. */
  #prepare(cs: ChangeSet, meta: CommitMeta, principal: Principal | undefined, refuse: (code: RefusalCode, message: string, problems?: readonly ChangeProblem[]) => never): Prepared {
    const { via } = meta;
    const problems: ChangeProblem[] = [];
    // Resources written earlier in this change set (null: deleted), by kind then id.
    const overlay = new Map<KindName, Map<string, Write | null>>();
    const companies = new Set<string | undefined>();
    const writes: Write[] = [];
    let lastKind: KindName | undefined;
    let written = new Map<string, Write | null>();
    let liveOfKind = new Map<string, LiveResource>();
    let encryptedOfKind = new Map<string, Encrypted>();
    const changes = Array.isArray(cs.changes) ? cs.changes : refuse('invalid', 'changes must be a list');
    for (let i = 0; i < changes.length; i++) {
      const c = changes[i]!;
      if (!isKindName(c.kind)) {
        problems.push({ code: 'invalid', message: `change ${i + 1}: unknown kind ${JSON.stringify(c.kind)}` });
        continue;
      }
      const kind = c.kind;
      if (typeof c.id !== 'string' || c.id === '') {
        problems.push({ code: 'invalid', message: `change ${i + 1}: ${kind} needs an id`, kind });
        continue;
      }
      const id = c.id;
      const company = companyOf(kind, id);
      if (principal && !principal.superUser && (kind === 'AdminAccount' || !canAccessCompany(principal, company))) {
        problems.push({
          code: 'forbidden',
          message: kind === 'AdminAccount' ? `${kind} '${id}': only super users manage admin accounts` : `${kind} '${id}' belongs to company '${company}', which '${principal.username}' does not administer`,
          kind,
          id,
        });
        continue;
      }
      // Consecutive changes are mostly of one kind: look its maps up once per run.
      if (kind !== lastKind) {
        lastKind = kind;
        const w = overlay.get(kind);
        if (w) written = w;
        else overlay.set(kind, (written = new Map()));
        liveOfKind = this.#byKind.get(kind)!;
        encryptedOfKind = this.#encrypted.get(kind)!;
      }
      const pending = written.get(id);
      const current = pending !== undefined ? (pending?.live ?? undefined) : liveOfKind.get(id);
      const currentEncrypted = pending !== undefined ? (pending?.encrypted ?? undefined) : encryptedOfKind.size === 0 ? undefined : encryptedOfKind.get(id);
      if (c.action === 'delete') {
        if (!current) {
          problems.push({ code: 'not-found', message: `change ${i + 1}: cannot delete ${kind} '${id}': it does not exist`, kind, id });
          continue;
        }
        if (via === 'plan' && current.manager !== 'config') {
          problems.push({ code: 'not-managed', message: `change ${i + 1}: ${kind} '${id}' is managed by ${current.manager}, not config: a plan never deletes what it does not manage`, kind, id });
          continue;
        }
        written.set(id, null);
        companies.add(company);
        writes.push({ action: 'delete', kind, id, company, live: undefined, encrypted: undefined, bodyJson: undefined, secretsJson: null, before: current, beforeEncrypted: currentEncrypted, clear: undefined });
        continue;
      }
      if (c.action !== 'create' && c.action !== 'update') {
        problems.push({ code: 'invalid', message: `change ${i + 1}: unknown action ${JSON.stringify((c as { action?: unknown }).action)}`, kind, id });
        continue;
      }
      const body = c.body;
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        problems.push({ code: 'invalid', message: `change ${i + 1}: the body of ${kind} '${id}' must be an object`, kind, id });
        continue;
      }
      // Before anything walks the body (JSON.stringify, structuredClone, the schema): a body
      // nested thousands of levels deep would overflow the stack instead of being refused.
      const tooDeep = tooDeepAt(body, MAX_JSON_DEPTH);
      if (tooDeep) {
        problems.push({ code: 'too-deep', message: `change ${i + 1}: ${new JsonTooDeepError(`the body of ${kind} '${id}'`, tooDeep).message}`, kind, id, path: tooDeep.slice(0, 8).join('.') });
        continue;
      }
      const bodyId = kindInfo(kind).id(body);
      if (bodyId !== id) {
        problems.push({
          code: 'id-mismatch',
          message: `change ${i + 1}: the body identifies ${kind} '${bodyId ?? '(unusable identity fields)'}' (by ${kindInfo(kind).identity.join(' + ')}), not '${id}'`,
          kind,
          id,
        });
        continue;
      }
      let manager: Manager;
      let drifted: boolean;
      if (c.action === 'create') {
        if (current) {
          problems.push({ code: 'exists', message: `change ${i + 1}: cannot create ${kind} '${id}': it already exists (managed by ${current.manager})`, kind, id });
          continue;
        }
        const m = c.manager ?? (via === 'plan' ? 'config' : via === 'api' ? 'api' : cs.origin.actor);
        if (typeof m !== 'string' || !MANAGER.test(m)) {
          problems.push({ code: 'invalid', message: `change ${i + 1}: manager must be config, api, import:<name> or directory:<name>, not ${JSON.stringify(m)}`, kind, id });
          continue;
        }
        manager = m as Manager;
        drifted = false;
      } else {
        if (!current) {
          problems.push({ code: 'not-found', message: `change ${i + 1}: cannot update ${kind} '${id}': it does not exist`, kind, id });
          continue;
        }
        manager = current.manager;
        if (via === 'plan' && manager !== 'config') {
          problems.push({ code: 'not-managed', message: `change ${i + 1}: ${kind} '${id}' is managed by ${manager}, not config: a plan never changes what it does not manage`, kind, id });
          continue;
        }
        // A config-managed resource written by anything but a plan has drifted from its YAML.
        drifted = manager === 'config' && via !== 'plan';
      }
      const slots = secretSlots(kind, body);
      const sec = slots.length === 0 ? NO_SECRETS : this.#secrets(kind, id, body, slots, current, currentEncrypted, problems);
      if (sec === undefined) continue;
      const liveBody = sec === NO_SECRETS ? body : sec.live;
      const live: LiveResource = drifted
        ? { kind, id, body: liveBody, manager, revision: meta.revision, updatedAt: meta.at, updatedBy: meta.actor, updatedVia: via, drifted }
        : { kind, id, body: liveBody, manager, revision: meta.revision, updatedAt: meta.at, updatedBy: meta.actor, updatedVia: via };
      const write: Write = {
        action: c.action,
        kind,
        id,
        company,
        live,
        encrypted: sec.encrypted,
        bodyJson: JSON.stringify(liveBody),
        secretsJson: sec.encrypted ? JSON.stringify(sec.encrypted) : null,
        before: current,
        beforeEncrypted: currentEncrypted,
        clear: sec.clear,
      };
      writes.push(write);
      written.set(id, write);
      companies.add(company);
    }
    if (problems.length > 0) {
      const code = CODE_ORDER.find((k) => problems.some((p) => p.code === k)) ?? 'invalid';
      refuse(code, `${problems.length} change${problems.length === 1 ? '' : 's'} refused; nothing was applied`, problems);
    }
    return { writes, overlay, companies };
  }

  /**
   * Secret slots of a new body: values are encrypted and fingerprinted; a fingerprint keeps the
   * current value it names (any secret of the same resource: lists may be reordered), and is
   * refused when it names none. Undefined when a problem was reported.
   */
  #secrets(
    kind: KindName,
    id: string,
    body: Readonly<Record<string, unknown>>,
    slots: readonly SecretSlot[],
    current: LiveResource | undefined,
    currentEncrypted: Encrypted | undefined,
    problems: ChangeProblem[],
  ): { live: Readonly<Record<string, unknown>>; encrypted: (readonly [NodePath, string])[] | undefined; clear: (readonly [NodePath, string])[] | undefined } | undefined {
    if (slots.length === 0) return { live: body, encrypted: undefined, clear: undefined };
    const aad = `${kind}\0${id}`;
    let currentByFp: Map<string, string> | undefined;
    const encrypted: (readonly [NodePath, string])[] = [];
    const clear: (readonly [NodePath, string])[] = [];
    const replace: (readonly [NodePath, unknown])[] = [];
    let ok = true;
    for (const s of slots) {
      if (typeof s.value === 'string') {
        encrypted.push([s.path, this.#box.encrypt(s.value, aad)]);
        clear.push([s.path, s.value]);
        replace.push([s.path, { $secret: this.#box.fingerprint(s.value) }]);
        continue;
      }
      if (!currentByFp) {
        currentByFp = new Map();
        for (const [p, ct] of currentEncrypted ?? []) {
          const fp = getPath(current!.body, p);
          if (isSecretFingerprint(fp)) currentByFp.set(fp.$secret, ct);
        }
      }
      const ct = currentByFp.get(s.value.$secret);
      if (ct === undefined) {
        ok = false;
        problems.push({
          code: 'secret-fingerprint',
          message: current
            ? `'${s.path.join('.')}' gives a fingerprint that matches no current secret of ${kind} '${id}': send the value to set it`
            : `'${s.path.join('.')}' gives a fingerprint but ${kind} '${id}' has no secret yet: send the value`,
          kind,
          id,
          path: s.path.join('.'),
        });
        continue;
      }
      encrypted.push([s.path, ct]);
      clear.push([s.path, this.#box.decrypt(ct, aad)]);
    }
    if (!ok) return undefined;
    return { live: replace.length > 0 ? withValues(body, replace) : body, encrypted, clear };
  }

  /**
   * Re-check the invariants of the post-change state of every company the writes touch: the
   * schema of each written resource, then every cross-resource rule (`checkRules`, the same
   * as `validate`) over the whole post-change state of those companies. Resources not written
   * were checked when they were; their schema is not re-validated (their cross-resource
   * rules are). Errors only.
   */
  #checkInvariants({ writes, overlay: changed, companies }: Prepared): ChangeProblem[] {
    if (writes.length === 0) return [];
    const registry = schemaRegistry();
    const problems: ChangeProblem[] = [];
    // The company of a company- or domain-scoped id is its first segment (no slicing per resource).
    const prefixes = [...companies].filter((c): c is string => c !== undefined).map((c) => `${c}/`);
    const inCompanies = (id: string) => {
      for (const p of prefixes) if (id.startsWith(p)) return true;
      return false;
    };
    const clearValues = new Set<string>();
    const resources: Resource[] = [];
    const byKind = new Map<KindName, Map<string, Resource>>();
    const known = new Map<KindName, Map<string, unknown>>();
    for (const kind of KIND_NAMES) {
      const knownOfKind = new Map<string, unknown>();
      const ofKind = new Map<string, Resource>();
      known.set(kind, knownOfKind);
      byKind.set(kind, ofKind);
      const add = (id: string, body: Readonly<Record<string, unknown>>) => {
        const r: Resource = { kind, id, body, secrets: NO_PATHS, source: { file: `#${resources.length}`, doc: 0, path: NO_PATH } };
        resources.push(r);
        ofKind.set(id, r);
      };
      const crossCompany = CROSS_COMPANY.has(kind);
      const written = changed.get(kind);
      const encrypted = this.#encrypted.get(kind)!;
      // No rule reads runtime-only kinds (contacts): their unchanged resources need no re-check.
      for (const [id, e] of RUNTIME_ONLY_KINDS.has(kind) ? NO_LIVE : this.#byKind.get(kind)!) {
        if (written?.has(id)) continue;
        if (!crossCompany && !inCompanies(id)) continue;
        knownOfKind.set(id, true);
        const enc = encrypted.size === 0 ? undefined : encrypted.get(id);
        if (!enc) {
          add(id, e.body);
          continue;
        }
        const values = enc.map(([p, ct]) => [p, this.#box.decrypt(ct, `${kind}\0${id}`)] as const);
        for (const [, v] of values) clearValues.add(v);
        add(id, withValues(e.body, values));
      }
      for (const [id, w] of written ?? []) {
        if (!w?.live) continue; // deleted
        knownOfKind.set(id, true);
        const clear = w.clear;
        if (clear) for (const [, v] of clear) clearValues.add(v);
        const body = clear ? withValues(w.live.body, clear) : w.live.body;
        const sp = registry.validate(kind, body).problems;
        if (sp.length > 0) {
          // Like validate: a resource failing its schema is known (for references) but not checked by rules.
          for (const p of sp) problems.push({ code: p.code, message: p.message, kind, id, ...(p.path.length > 0 ? { path: p.path.join('.') } : {}) });
          continue;
        }
        add(id, body);
      }
    }
    const pending: PendingDiagnostic[] = [];
    checkRules({ resources, byKind }, known, pending);
    const at = (ref: { file: string } | undefined) => (ref ? resources[Number(ref.file.slice(1))] : undefined);
    // Server-wide kinds (connectors, admin accounts) of other companies are loaded for the
    // rules that span companies (unique connector names), but without their companies' other
    // resources: a problem found on one of them that does not involve a touched company is an
    // artefact of that partial view, not of this change set. Each company is judged by its own
    // state; it was checked whole when it was written.
    const concerns = (r: Resource | undefined) => r !== undefined && companies.has(companyOf(r.kind, r.id));
    for (const d of pending) {
      if (d.severity !== 'error') continue;
      const r = at(d.at);
      const related = d.related ? at(d.related.at) : undefined;
      if (r && !concerns(r) && !concerns(related)) continue;
      problems.push({
        code: d.code,
        message: related ? `${d.message} (${d.related!.label}: ${related.kind} ${related.id})` : d.message,
        ...(r ? { kind: r.kind, id: r.id } : {}),
        ...(d.at && d.at.path.length > 0 ? { path: d.at.path.join('.') } : {}),
      });
    }
    // Defence in depth (rules and schema messages already never quote secrets); values shorter
    // than 4 characters would mangle every message and reveal next to nothing.
    const scrub = (m: string) => {
      for (const v of clearValues) if (v.length >= 4 && m.includes(v)) m = m.split(v).join(SENSITIVE);
      return m;
    };
    return clearValues.size === 0 ? problems : problems.map((p) => ({ ...p, message: scrub(p.message) }));
  }

  /** Write everything, the audit entry and the new revision in one immediate transaction. */
  #write(cs: ChangeSet, writes: readonly Write[], c: CommitMeta, audit: EncodedAudit, refuse: (code: RefusalCode, message: string, problems?: readonly ChangeProblem[], revision?: number) => never): void {
    const store = this.#store;
    const hook = this.#hooks?.duringWrite;
    store.writeTransaction(() => {
      const live = store.revision();
      // The revision reported is the one found here, not the one read before checking.
      if (live !== c.base) refuse('stale', `another change set was committed meanwhile (live revision ${live}, planned against ${c.base}): plan again`, [], live);
      for (let i = 0; i < writes.length; i++) {
        const w = writes[i]!;
        if (w.action === 'create') {
          const e = w.live!;
          store.insertResource.run(w.kind, w.id, w.company ?? null, w.bodyJson!, w.secretsJson, e.manager, c.revision, c.at, c.actor, c.via, e.drifted ? 1 : 0);
        } else if (w.action === 'update') {
          const e = w.live!;
          store.updateResource.run(w.bodyJson!, w.secretsJson, e.manager, c.revision, c.at, c.actor, c.via, e.drifted ? 1 : 0, w.kind, w.id);
        } else {
          store.deleteResource.run(w.kind, w.id);
        }
        if (hook && (i + 1) % 1000 === 0) hook(i + 1);
      }
      store.insertAudit({
        revision: c.revision,
        at: c.at,
        actor: c.actor,
        via: c.via,
        planDigest: cs.origin.planDigest,
        gitCommit: cs.origin.gitCommit,
        gitDirty: cs.origin.gitDirty,
        summary: cs.origin.summary,
        changes: audit.changes,
        touched: audit.touched,
      });
      store.setRevision(c.revision);
    });
  }

  #commitToCache(writes: readonly Write[], revision: number): void {
    for (const w of writes) {
      const m = this.#byKind.get(w.kind)!;
      const enc = this.#encrypted.get(w.kind)!;
      if (!w.live) {
        m.delete(w.id);
        enc.delete(w.id);
        continue;
      }
      if (!m.has(w.id)) this.#unsorted.add(w.kind);
      m.set(w.id, w.live);
      if (w.encrypted) enc.set(w.id, w.encrypted);
      else enc.delete(w.id);
    }
    this.#revision = revision;
  }

  // -------------------------------------------------------------------------------------
  // Cache and other processes

  #reloadAll(): void {
    for (const m of this.#byKind.values()) m.clear();
    for (const m of this.#encrypted.values()) m.clear();
    for (const row of this.#store.allResources()) this.#put(row);
    for (const k of KIND_NAMES) this.#unsorted.add(k);
    this.#revision = this.#store.revision();
  }

  /** Catch up with commits of other processes (cheap when there are none). */
  #refresh(): void {
    if (this.#closed) return;
    const dv = this.#store.dataVersion();
    if (dv === this.#dataVersion) return;
    this.#dataVersion = dv;
    const from = this.#revision;
    const events: CommittedEvent[] = [];
    this.#store.readTransaction(() => {
      const revision = this.#store.revision();
      if (revision === from) return;
      const heads = this.#store.auditHeadsSince(from);
      const keys = new Map<string, [KindName, string]>();
      for (const h of heads) {
        const t = JSON.parse(jsonOf(h.touched)) as string[];
        const changes: { action: Change['action']; kind: KindName; id: string; company?: string }[] = [];
        for (let i = 0; i < t.length; i += 3) {
          const kind = t[i + 1] as KindName;
          const id = t[i + 2]!;
          const company = companyOf(kind, id);
          changes.push({ action: ACTIONS[t[i]!]!, kind, id, ...(company !== undefined ? { company } : {}) });
          keys.set(`${kind}\0${id}`, [kind, id]);
        }
        events.push({ revision: h.revision, at: h.at, via: h.via as ChangeVia, actor: h.actor, changes });
      }
      if (heads.length === 0 || heads[0]!.revision !== from + 1 || keys.size > 20_000) {
        this.#reloadAll();
      } else {
        for (const [kind, id] of keys.values()) {
          const row = this.#store.resource(kind, id);
          const m = this.#byKind.get(kind);
          if (!m) continue;
          if (row) {
            if (!m.has(id)) this.#unsorted.add(kind);
            this.#put(row);
          } else {
            m.delete(id);
            this.#encrypted.get(kind)!.delete(id);
          }
        }
        this.#revision = revision;
      }
    });
    for (const e of events) this.#emit(e);
  }

  #emit(event: CommittedEvent): void {
    this.#host.deliver(event);
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch (e) {
        this.#log.error({ err: (e as Error).message, revision: event.revision }, 'a change subscriber failed');
      }
    }
  }

  /** Load a stored row into the live state. */
  #put(row: ResourceRow): void {
    const [kind, id, , body, secrets, manager, revision, updatedAt, updatedBy, updatedVia, drifted] = row;
    const m = this.#byKind.get(kind as KindName);
    if (!m) return; // a kind this version does not know
    const parsed = JSON.parse(body) as Record<string, unknown>;
    m.set(
      id,
      drifted === 1
        ? { kind: kind as KindName, id, body: parsed, manager: manager as Manager, revision, updatedAt, updatedBy, updatedVia: updatedVia as ChangeVia, drifted: true }
        : { kind: kind as KindName, id, body: parsed, manager: manager as Manager, revision, updatedAt, updatedBy, updatedVia: updatedVia as ChangeVia },
    );
    const enc = this.#encrypted.get(kind as KindName)!;
    if (secrets !== null) enc.set(id, JSON.parse(secrets) as Encrypted);
    else enc.delete(id);
  }

  #sorted(kind: KindName): Map<string, LiveResource> {
    let m = this.#byKind.get(kind)!;
    if (this.#unsorted.has(kind)) {
      const ids = [...m.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const sorted = new Map<string, LiveResource>();
      for (const id of ids) sorted.set(id, m.get(id)!);
      this.#byKind.set(kind, sorted);
      this.#unsorted.delete(kind);
      m = sorted;
    }
    return m;
  }

  #visible(company: string | undefined, only: string | undefined, principal: Principal | undefined): boolean {
    if (only !== undefined && company !== only) return false;
    return principal === undefined || canAccessCompany(principal, company);
  }

  #liveOf(kinds: readonly KindName[]): LiveResource[] {
    const out: LiveResource[] = [];
    for (const k of kinds) for (const e of this.#sorted(k).values()) out.push(e);
    return out;
  }

  #count(): number {
    let n = 0;
    for (const m of this.#byKind.values()) n += m.size;
    return n;
  }

  /** Stop the engines and close the store. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#poll);
    await this.#host.stop();
    await this.#auditEncoder.close();
    this.#listeners.clear();
    this.#store.close();
    this.#log.info({ dataDir: this.dataDir }, 'runtime closed');
  }
}

const NO_PATHS: readonly NodePath[] = [];
const NO_PATH: NodePath = [];
const ACTIONS: Record<string, Change['action']> = { c: 'create', u: 'update', d: 'delete' };

/** The secrets of a body without secret slots. */
const NO_SECRETS = { live: undefined, encrypted: undefined, clear: undefined } as const;

/** Change sets at least this large have their audit entry encoded off-thread. */
const AUDIT_OFF_THREAD = 10_000;

/** The audit entry's changes: bodies as JSON, secrets as "(sensitive)". */
function auditInput(writes: readonly Write[]): AuditInput {
  const n = writes.length;
  const actions: string[] = new Array(n);
  const kinds: string[] = new Array(n);
  const ids: string[] = new Array(n);
  const before: (string | null)[] = new Array(n);
  const after: (string | null)[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const w = writes[i]!;
    actions[i] = w.action;
    kinds[i] = w.kind;
    ids[i] = w.id;
    before[i] = w.before ? JSON.stringify(redacted(w.before, w.beforeEncrypted)) : null;
    after[i] = w.live ? (w.encrypted ? JSON.stringify(redacted(w.live, w.encrypted)) : w.bodyJson!) : null;
  }
  return { actions, kinds, ids, before, after };
}

/** The audit form of a live body: secrets as "(sensitive)". */
function redacted(live: LiveResource, encrypted: Encrypted | undefined): unknown {
  if (!encrypted) return live.body;
  return withValues(
    live.body,
    encrypted.map(([p]) => [p, SENSITIVE] as const),
  );
}

/** Kinds with no company (server-wide). */
export function isServerWide(kind: KindName): boolean {
  return SERVER_WIDE.has(kind);
}
