/**
 * The runtime's contract: what the reconciler, the CLI and the HTTP API exchange with the live
 * system. Plain JSON values only (they cross HTTP unchanged). The embedded runtime (in-process
 * SQLite under ./.switchboard/) and the HTTP client of `switchboard serve` both implement
 * {@link RuntimeClient}; tests run the reconciler against both.
 *
 * Secrets never leave the runtime: in a {@link LiveResource} every secret field holds a
 * {@link SecretFingerprint} instead of its value. Clients send secret values only inside change
 * sets, and may ask for fingerprints of candidate values to tell a changed secret from an
 * unchanged one (docs/runtime.md, "Secrets").
 */
import type { KindName } from '../model/kinds.js';
import type { LicenceStatus } from '../model/licences.js';
import type { ExtensionQuery, ExtensionStatus, LinkStatus } from './engines/pbx-links.js';

export type { ExtensionQuery, ExtensionStatus, LicenceStatus, LinkStatus };

/**
 * Who manages a live resource. `config`: applied from YAML (plan/apply, watch); `api`: created
 * by an administrator through the API; `import:<name>` / `directory:<name>`: created by that
 * sync engine. Config never deletes what it does not manage.
 */
export type Manager = 'config' | 'api' | `import:${string}` | `directory:${string}`;

/** A secret as the live state shows it: a keyed fingerprint (HMAC-SHA-256 under the runtime's key), never the value. */
export interface SecretFingerprint {
  readonly $secret: string;
}

export function isSecretFingerprint(v: unknown): v is SecretFingerprint {
  return typeof v === 'object' && v !== null && typeof (v as { $secret?: unknown }).$secret === 'string' && Object.keys(v).length === 1;
}

/** One live resource. */
export interface LiveResource {
  readonly kind: KindName;
  readonly id: string;
  /** Fields as stored; secret fields hold {@link SecretFingerprint}s. */
  readonly body: Readonly<Record<string, unknown>>;
  readonly manager: Manager;
  /** Revision of the change set that last wrote it. */
  readonly revision: number;
  readonly updatedAt: string;
  /** Actor of the last write (token owner, `config`, engine name). */
  readonly updatedBy: string;
  /** Through which path it was last written. */
  readonly updatedVia: ChangeVia;
  /** Set when a config-managed resource was last written by something other than config (out-of-band edit). */
  readonly drifted?: boolean;
}

/** The whole live state (or one company's) at a revision. */
export interface LiveState {
  readonly revision: number;
  readonly resources: readonly LiveResource[];
}

export type ChangeVia = 'plan' | 'api' | 'sync';

/**
 * One change. `body` is the full resource; a secret field holds either the value (set it) or
 * the {@link SecretFingerprint} of the current value (keep it: refused if it does not match).
 */
export type Change =
  | { readonly action: 'create'; readonly kind: KindName; readonly id: string; readonly body: Readonly<Record<string, unknown>>; readonly manager?: Manager }
  | { readonly action: 'update'; readonly kind: KindName; readonly id: string; readonly body: Readonly<Record<string, unknown>> }
  | { readonly action: 'delete'; readonly kind: KindName; readonly id: string };

/** Where a change set comes from, for the audit log. */
export interface ChangeOrigin {
  readonly via: ChangeVia;
  /** Who: the token's admin for API/plan, the engine for sync (the runtime fills it from the token when serving HTTP). */
  readonly actor?: string;
  /** Digest of the plan applied, when via = plan. */
  readonly planDigest?: string;
  /** Git commit of the configuration, when known. */
  readonly gitCommit?: string;
  readonly gitDirty?: boolean;
  /** Free text, e.g. the plan summary. */
  readonly summary?: string;
}

/**
 * An atomic, ordered list of changes, planned against `baseRevision`. Applied all or nothing;
 * refused as `stale` when the live revision is not `baseRevision` (optimistic concurrency).
 */
export interface ChangeSet {
  readonly baseRevision: number;
  readonly changes: readonly Change[];
  readonly origin: ChangeOrigin;
}

/** Why a change set was refused. */
export type RefusalCode = 'stale' | 'invalid' | 'forbidden' | 'not-found' | 'exists' | 'not-managed';

export interface ChangeProblem {
  readonly code: string;
  readonly message: string;
  readonly kind?: KindName;
  readonly id?: string;
  readonly path?: string;
}

export type ChangeSetResult =
  | { readonly ok: true; readonly revision: number; readonly applied: number }
  | { readonly ok: false; readonly code: RefusalCode; readonly message: string; readonly revision: number; readonly problems: readonly ChangeProblem[] };

/**
 * What a change does to the running system, as an engine says it (never from tables in the
 * renderer): a link or engine that restarts and how many extensions lose supervision
 * meanwhile, extensions whose supervision starts or stops, extensions configured but that
 * nothing will supervise (`not-supervised`, with why: no driver for the link's protocol, over
 * the link's capacity, no link), sync engines that re-run, and synchronizations this runtime
 * does not perform (`sync-unsupported`). Only what the engines will actually do.
 */
export type ImpactFact =
  | { readonly type: 'restart'; readonly engine: string; readonly target: string; readonly reason: string; readonly extensionsInterrupted: number }
  | { readonly type: 'supervision-start' | 'supervision-stop'; readonly engine: string; readonly extensions: readonly string[] }
  | { readonly type: 'not-supervised'; readonly engine: string; readonly extensions: readonly string[]; readonly reason: string }
  | { readonly type: 'sync-rerun'; readonly engine: string; readonly target: string; readonly reason: string }
  | { readonly type: 'sync-unsupported'; readonly engine: string; readonly target: string; readonly reason: string };

/** The impact of the i-th change of a list. */
export interface ChangeImpact {
  readonly index: number;
  readonly facts: readonly ImpactFact[];
}

/** One audit-log entry: a committed change set. */
export interface AuditEntry {
  readonly revision: number;
  readonly at: string;
  readonly actor: string;
  readonly via: ChangeVia;
  readonly planDigest?: string;
  readonly gitCommit?: string;
  readonly gitDirty?: boolean;
  readonly summary?: string;
  /** Per resource: before/after with secrets replaced by "(sensitive)". */
  readonly changes: readonly { readonly action: Change['action']; readonly kind: KindName; readonly id: string; readonly before?: unknown; readonly after?: unknown }[];
}

export interface EngineStatus {
  readonly name: string;
  readonly state: 'starting' | 'running' | 'failed' | 'backoff' | 'stopped';
  readonly message?: string;
  readonly restarts: number;
  readonly since: string;
  /** Engine-specific facts (links: connected, current/total extensions; sync: last run …). */
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface RuntimeStatus {
  readonly revision: number;
  readonly engines: readonly EngineStatus[];
}

/** The runtime as the reconciler and CLI see it, embedded or over HTTP. */
export interface RuntimeClient {
  /** Where it is: `embedded:<dir>` or the server URL (for messages). */
  readonly location: string;
  state(filter?: { readonly company?: string }): Promise<LiveState>;
  /** Keyed fingerprints of candidate secret values, in order. */
  fingerprint(values: readonly string[]): Promise<string[]>;
  apply(changeSet: ChangeSet): Promise<ChangeSetResult>;
  /** What each change would do to the running system (asked of the engines). */
  impact(changes: readonly Change[]): Promise<ChangeImpact[]>;
  audit(query?: { readonly limit?: number; readonly via?: ChangeVia; readonly sinceRevision?: number }): Promise<AuditEntry[]>;
  status(): Promise<RuntimeStatus>;
  /** Each PBX link's connection status (manual §10.4). */
  links(): Promise<LinkStatus[]>;
  /** Available, used and free licences per application and company (manual §3.3.2), optionally one company's. */
  licences(filter?: { readonly company?: string }): Promise<LicenceStatus[]>;
  /** The configured extensions' status (manual §10.5), in number order, optionally a range. */
  extensions(query?: ExtensionQuery): Promise<ExtensionStatus[]>;
  close(): Promise<void>;
}
