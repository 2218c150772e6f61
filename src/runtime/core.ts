/**
 * The in-process runtime API (`Runtime` in runtime.ts implements it): what the embedded
 * client and the HTTP server wrap. Synchronous where SQLite is (better-sqlite3); engines run
 * asynchronously beside it.
 */
import type { KindName } from '../model/kinds.js';
import type { LicenceStatus } from '../model/licences.js';
import type { AuditEntry, Change, ChangeImpact, ChangeSet, ChangeSetResult, ChangeVia, LiveResource, LiveState, RuntimeStatus, LinkStatus, ExtensionQuery, ExtensionStatus } from './types.js';

/** Who is calling: a super user (all companies) or an admin of some companies. */
export interface Principal {
  readonly username: string;
  readonly superUser: boolean;
  /** Companies this principal may read and change (ignored for super users). */
  readonly companies: readonly string[];
}

/** A committed change set, as broadcast to subscribers (engines, SSE) — secrets redacted. */
export interface CommittedEvent {
  readonly revision: number;
  readonly at: string;
  readonly via: ChangeVia;
  readonly actor: string;
  readonly changes: readonly { readonly action: Change['action']; readonly kind: KindName; readonly id: string; readonly company?: string }[];
}

export interface RuntimeCore {
  readonly dataDir: string;
  /** Current revision (re-read from the store: another process may have committed). */
  revision(): number;
  /** Live state, optionally one company's; as `principal` may see it (403 is the caller's job via `canAccessCompany`). */
  state(filter?: { readonly company?: string; readonly principal?: Principal }): LiveState;
  get(kind: KindName, id: string): LiveResource | undefined;
  fingerprint(values: readonly string[]): string[];
  /** Apply atomically; refuses (never throws) on stale revision, invariant violations, or resources outside the principal's companies. */
  apply(changeSet: ChangeSet, principal?: Principal): ChangeSetResult;
  impact(changes: readonly Change[]): ChangeImpact[];
  audit(query?: { readonly limit?: number; readonly via?: ChangeVia; readonly sinceRevision?: number; readonly principal?: Principal }): AuditEntry[];
  status(principal?: Principal): RuntimeStatus;
  links(principal?: Principal): LinkStatus[];
  /** The licence screen (§3.3.2) of the resources `state(filter)` returns. */
  licences(filter?: { readonly company?: string; readonly principal?: Principal }): LicenceStatus[];
  extensions(query?: ExtensionQuery, principal?: Principal): ExtensionStatus[];
  /** Committed change sets, including those committed by another process on the same store. */
  subscribe(listener: (event: CommittedEvent) => void): () => void;
  /** The company a resource belongs to (undefined for server-wide kinds: Company → itself, AdminAccount → none). */
  companyOf(kind: KindName, id: string): string | undefined;
  canAccessCompany(principal: Principal, company: string | undefined): boolean;
  close(): Promise<void>;
}
