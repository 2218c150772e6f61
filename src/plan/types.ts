/**
 * The plan: what `switchboard plan` computes and `apply` carries out. A plain value — it
 * survives JSON.stringify → JSON.parse unchanged, holds no function, client or class
 * instance, and never a secret value (secret fields hold {@link PlannedSecret}s). Its JSON
 * form is versioned by `formatVersion` and described in schemas/plan.schema.json.
 */
import type { KindName } from '../model/kinds.js';
import type { ImpactFact, Manager } from '../runtime/types.js';
import type { BehaviourChange } from '../dialplan/index.js';

export const PLAN_FORMAT_VERSION = 1;

/**
 * A secret field in a plan: the keyed fingerprint of the value (to tell a change without
 * showing it) and, for desired values, the reference apply re-resolves (`${env:NAME}`,
 * `${file:path}`), since the plan never holds the value itself.
 */
export interface PlannedSecret {
  readonly $secret: string;
  readonly ref?: string;
}

export type Body = Readonly<Record<string, unknown>>;

/** One field that changes in an update: its path in the resource, before and after. */
export interface FieldChange {
  /** `devices[0].number`, `members`, `parameters.password`. */
  readonly path: string;
  readonly before?: unknown;
  readonly after?: unknown;
  /** A secret field: before/after are never shown, only "(sensitive value changed)". */
  readonly sensitive?: true;
}

/** Who last wrote a live resource out of band (from the runtime), when config did not. */
export interface Drift {
  readonly actor: string;
  readonly via: string;
  readonly revision: number;
  readonly at: string;
}

interface ChangeBase {
  readonly kind: KindName;
  readonly id: string;
  /** What the engines say this change does to the running system. */
  readonly impact: readonly ImpactFact[];
}

/** The closed set of actions. A create has no `before`; a delete has no `after`. */
export type PlannedChange =
  | (ChangeBase & { readonly action: 'create'; readonly after: Body })
  | (ChangeBase & { readonly action: 'update'; readonly before: Body; readonly after: Body; readonly fields: readonly FieldChange[]; readonly drift?: Drift; readonly dialPlan?: readonly BehaviourChange[] })
  | (ChangeBase & { readonly action: 'delete'; readonly before: Body })
  | (ChangeBase & { readonly action: 'replace'; readonly before: Body; readonly after: Body; readonly fields: readonly FieldChange[]; readonly reason: string });

export type Action = PlannedChange['action'];

/** A live resource config does not manage: shown, never deleted. */
export interface UnmanagedResource {
  readonly kind: KindName;
  readonly id: string;
  readonly manager: Manager;
  /** Also declared in the configuration (which then cannot change it). */
  readonly declared?: true;
}

/** Licence use of one application in one company, before → after. */
export interface LicenceUse {
  readonly company: string;
  readonly application: string;
  readonly before: number;
  readonly after: number;
  readonly available: number;
}

/** Users who gain or lose an application. */
export interface ApplicationAccess {
  readonly company: string;
  readonly application: string;
  readonly gained: readonly string[];
  readonly lost: readonly string[];
}

/** Everything the plan does to the running system, summed up. */
export interface PlanImpact {
  readonly restarts: readonly { readonly engine: string; readonly target: string; readonly reason: string; readonly extensionsInterrupted: number }[];
  readonly supervisionStarts: readonly string[];
  readonly supervisionStops: readonly string[];
  /** Extensions configured that nothing will supervise, grouped by why (`company:extension`). */
  readonly notSupervised: readonly { readonly reason: string; readonly extensions: readonly string[] }[];
  readonly syncReruns: readonly { readonly engine: string; readonly target: string; readonly reason: string }[];
  /** Imports and directories this runtime will not synchronize, and why. */
  readonly syncUnsupported: readonly { readonly engine: string; readonly target: string; readonly reason: string }[];
  readonly licences: readonly LicenceUse[];
  readonly access: readonly ApplicationAccess[];
}

export interface PlanSummary {
  readonly create: number;
  readonly update: number;
  readonly delete: number;
  readonly replace: number;
  readonly unmanaged: number;
  /** Per kind: counts per action. */
  readonly byKind: Readonly<Partial<Record<KindName, Readonly<Partial<Record<Action, number>>>>>>;
}

export interface PlanWarning {
  readonly code: string;
  readonly message: string;
  readonly kind?: KindName;
  readonly id?: string;
}

export interface Plan {
  readonly formatVersion: typeof PLAN_FORMAT_VERSION;
  readonly createdAt: string;
  /** The runtime planned against and its revision: a saved plan applies only at that revision. */
  readonly runtime: { readonly location: string; readonly revision: number };
  readonly config: {
    readonly root: string;
    /** SHA-256 of the canonical desired state (secrets as fingerprints). */
    readonly digest: string;
    readonly git?: { readonly commit: string; readonly dirty: boolean };
  };
  /** `--target` filters, when given: only changes to these ids (and ids under them). */
  readonly targets?: readonly string[];
  /** In order: creates/updates/replaces in dependency order, then deletes in reverse order. */
  readonly changes: readonly PlannedChange[];
  readonly unmanaged: readonly UnmanagedResource[];
  /** How many live resources of each kind existed when planning (the base of deletion thresholds). */
  readonly liveCounts: Readonly<Partial<Record<KindName, number>>>;
  readonly summary: PlanSummary;
  readonly impact: PlanImpact;
  readonly warnings: readonly PlanWarning[];
}
