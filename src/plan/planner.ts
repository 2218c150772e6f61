/**
 * Making a plan: the only asynchronous step of the reconciler, because it asks the runtime
 * for the live state, secret fingerprints and the engines' impact. Everything it computes
 * from those answers is pure (canonical.ts, diff.ts, the licence and dial-plan analyses).
 */
import { createHash, hash } from 'node:crypto';
import path from 'node:path';
import type { KindName } from '../model/kinds.js';
import { applicationUsers, licencesAvailable, type AnyResource } from '../model/licences.js';
import type { DesiredState } from '../model/resource.js';
import type { Change, ImpactFact, RuntimeClient } from '../runtime/types.js';
import { behaviourDiff, compileDialPlan, isCompiled, resolveDialPlan, SAMPLE_NUMBERS, type BehaviourChange, type DialPlanInput, type SampleNumber } from '../dialplan/index.js';
import { domainDialDefaults } from '../validate/dialplan-rules.js';
import { canonicalize } from './canonical.js';
import { countByKind } from './safety.js';
import { belongsToCompany } from '../model/company-scope.js';
import { diff, type CanonicalLive, type DesiredResource, type DiffChange } from './diff.js';
import { fieldPath } from '../diagnostics.js';
import { PLAN_FORMAT_VERSION, type Action, type Body, type Plan, type PlanImpact, type PlannedChange, type PlanSummary, type PlanWarning } from './types.js';

export interface PlanOptions {
  /** The configuration directory, as given (recorded in the plan; file secrets resolve from it). */
  readonly root: string;
  readonly targets?: readonly string[];
  /**
   * The plan owns only this company's resources (belongsToCompany): the configuration is one
   * company's export, and what it leaves out (other companies, server-wide admin accounts) is
   * neither deleted nor counted.
   */
  readonly company?: string;
  readonly git?: { readonly commit: string; readonly dirty: boolean };
  readonly now?: Date;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The desired state in canonical form, secrets as `{ $secret: fingerprint, ref? }`. */
/**
 * A secret reference as the plan records it: relative `${file:…}` paths are made relative to
 * the configuration root (they are written relative to their YAML file), so apply can resolve
 * them; an absolute path (into a `--secrets-dir`) is kept as written — joining it to the YAML
 * file's folder would name a file that does not exist.
 */
export function planRef(ref: string, yamlFile: string, root: string): string {
  const m = /^\$\{file:(.+)\}$/.exec(ref);
  if (!m || path.isAbsolute(m[1]!)) return ref;
  return `\${file:${path.relative(root, path.resolve(path.dirname(yamlFile), m[1]!)).split(path.sep).join('/')}}`;
}

/** The desired state as the differ takes it: canonical bodies, secrets as `{ $secret: fingerprint, ref? }`. */
export async function plannedDesired(state: DesiredState, client: RuntimeClient, root = '.'): Promise<DesiredResource[]> {
  const values = new Set<string>();
  for (const r of state.resources) {
    for (const p of r.secrets) {
      let v: unknown = r.body;
      for (const step of p) v = (v as Record<string | number, unknown>)?.[step];
      if (typeof v === 'string') values.add(v);
    }
  }
  const list = [...values];
  const fps = list.length > 0 ? await client.fingerprint(list) : [];
  const fingerprintOf = new Map(list.map((v, i) => [v, fps[i]!]));
  return state.resources.map((r) => {
    if (r.secrets.length === 0) return { kind: r.kind, id: r.id, body: canonicalBody(r.kind, r.body) };
    const body = structuredClone(r.body) as Record<string, unknown>;
    for (const p of r.secrets) {
      let o: Record<string | number, unknown> = body;
      for (const step of p.slice(0, -1)) o = o[step] as Record<string | number, unknown>;
      const last = p[p.length - 1]!;
      const value = o[last];
      if (typeof value !== 'string') continue;
      const ref = r.secretRefs?.[fieldPath(p)];
      o[last] = { $secret: fingerprintOf.get(value)!, ...(ref ? { ref: planRef(ref, r.source.file, root) } : {}) };
    }
    return { kind: r.kind, id: r.id, body: canonicalBody(r.kind, body) };
  });
}

/**
 * Canonical form of a planned or live body (secret objects kept as they are), cached per
 * body object: `watch` hands the same parsed bodies back for files that did not change, so
 * only changed resources are canonicalized again. Bodies are never mutated once parsed.
 */
export function canonicalBody(kind: KindName, body: Body): Body {
  const cached = canonicalCache.get(body);
  if (cached) return cached;
  const c = canonicalize(kind, body, (value) => (isObject(value) && typeof value.$secret === 'string' ? value : { $secret: '(unknown)' }));
  canonicalCache.set(body, c);
  return c;
}

const canonicalCache = new WeakMap<Body, Body>();


/** The runtime changes a diff stands for (secrets as planned; used for impact only). */
function runtimeChanges(changes: readonly DiffChange[]): { changes: Change[]; owner: number[] } {
  const out: Change[] = [];
  const owner: number[] = [];
  changes.forEach((c, i) => {
    const push = (ch: Change) => {
      out.push(ch);
      owner.push(i);
    };
    if (c.action === 'create') push({ action: 'create', kind: c.kind, id: c.id, body: c.after });
    else if (c.action === 'update') push({ action: 'update', kind: c.kind, id: c.id, body: c.after });
    else if (c.action === 'delete') push({ action: 'delete', kind: c.kind, id: c.id });
    else {
      push({ action: 'delete', kind: c.kind, id: c.id });
      push({ action: 'create', kind: c.kind, id: c.id, body: c.after });
    }
  });
  return { changes: out, owner };
}

/** The live state after the changes (canonical bodies), for before → after analyses. */
function stateAfter(live: readonly CanonicalLive[], changes: readonly DiffChange[]): AnyResource[] {
  const m = new Map<string, AnyResource>(live.map((l) => [`${l.resource.kind}\u0000${l.resource.id}`, { kind: l.resource.kind, id: l.resource.id, body: l.body }]));
  for (const c of changes) {
    const key = `${c.kind}\u0000${c.id}`;
    if (c.action === 'delete') m.delete(key);
    else m.set(key, { kind: c.kind, id: c.id, body: c.after });
  }
  return [...m.values()];
}

function licenceImpact(before: readonly AnyResource[], after: readonly AnyResource[]): Pick<PlanImpact, 'licences' | 'access'> {
  const b = applicationUsers(before);
  const a = applicationUsers(after);
  const available = licencesAvailable(after);
  const licences: PlanImpact['licences'][number][] = [];
  const access: PlanImpact['access'][number][] = [];
  const companies = [...new Set([...b.keys(), ...a.keys()])].sort();
  for (const company of companies) {
    const apps = [...new Set([...(b.get(company)?.keys() ?? []), ...(a.get(company)?.keys() ?? [])])].sort();
    for (const application of apps) {
      const ub = b.get(company)?.get(application) ?? new Set<string>();
      const ua = a.get(company)?.get(application) ?? new Set<string>();
      const avail = available.get(`${company}/${application}`) ?? 0;
      const gained = [...ua].filter((u) => !ub.has(u)).sort();
      const lost = [...ub].filter((u) => !ua.has(u)).sort();
      if (gained.length > 0 || lost.length > 0 || ua.size > avail) {
        licences.push({ company, application, before: ub.size, after: ua.size, available: avail });
        access.push({ company, application, gained, lost });
      }
    }
  }
  return { licences, access };
}

/** The behaviour of each changed dial plan (or domain dial-plan basics) on its tests and a sample of numbers. */
function dialPlanChanges(before: readonly AnyResource[], after: readonly AnyResource[], changes: readonly DiffChange[]): Map<number, BehaviourChange[]> {
  const find = (list: readonly AnyResource[], kind: KindName, id: string) => list.find((r) => r.kind === kind && r.id === id);
  const compile = (list: readonly AnyResource[], domain: string) => {
    const plan = find(list, 'DialPlan', domain);
    const dom = find(list, 'Domain', domain);
    if (!plan && !dom) return null;
    const compiled = compileDialPlan(resolveDialPlan((plan?.body ?? {}) as DialPlanInput, domainDialDefaults(dom?.body as Record<string, unknown> | undefined)));
    return isCompiled(compiled) ? { compiled, tests: ((plan?.body.tests as { number?: unknown; direction?: unknown }[] | undefined) ?? []) } : null;
  };
  const out = new Map<number, BehaviourChange[]>();
  changes.forEach((c, i) => {
    if ((c.kind !== 'DialPlan' && c.kind !== 'Domain') || (c.action !== 'update' && c.action !== 'replace')) return;
    const b = compile(before, c.id);
    const a = compile(after, c.id);
    if (!a && !b) return;
    const numbers: SampleNumber[] = [];
    for (const t of [...(a?.tests ?? []), ...(b?.tests ?? [])]) {
      if (typeof t.number === 'string') numbers.push({ number: t.number, direction: t.direction === 'incoming' ? 'incoming' : 'outgoing' });
    }
    numbers.push(...SAMPLE_NUMBERS((a ?? b)!.compiled.settings));
    const seen = new Set<string>();
    const unique = numbers.filter((n) => !seen.has(`${n.direction} ${n.number}`) && seen.add(`${n.direction} ${n.number}`));
    const changed = behaviourDiff(b?.compiled ?? null, a?.compiled ?? null, unique);
    if (changed.length > 0) out.set(i, changed);
  });
  return out;
}

function summarize(changes: readonly PlannedChange[], unmanaged: number): PlanSummary {
  const counts: Record<Action, number> = { create: 0, update: 0, delete: 0, replace: 0 };
  const byKind: Partial<Record<KindName, Partial<Record<Action, number>>>> = {};
  for (const c of changes) {
    counts[c.action]++;
    const k = (byKind[c.kind] ??= {});
    k[c.action] = (k[c.action] ?? 0) + 1;
  }
  return { ...counts, unmanaged, byKind };
}

function totalImpact(changes: readonly PlannedChange[], licences: Pick<PlanImpact, 'licences' | 'access'>): PlanImpact {
  const facts = changes.flatMap((c) => c.impact);
  const restarts = new Map<string, Extract<ImpactFact, { type: 'restart' }>>();
  for (const f of facts) if (f.type === 'restart' && !restarts.has(`${f.engine} ${f.target}`)) restarts.set(`${f.engine} ${f.target}`, f);
  const reruns = new Map<string, Extract<ImpactFact, { type: 'sync-rerun' }>>();
  for (const f of facts) if (f.type === 'sync-rerun' && !reruns.has(`${f.engine} ${f.target}`)) reruns.set(`${f.engine} ${f.target}`, f);
  // Extension numbers are unique within a company, not across companies: qualify them.
  const unsupported = new Map<string, Extract<ImpactFact, { type: 'sync-unsupported' }>>();
  for (const f of facts) if (f.type === 'sync-unsupported' && !unsupported.has(`${f.engine} ${f.target}`)) unsupported.set(`${f.engine} ${f.target}`, f);
  const notSupervised = new Map<string, Set<string>>();
  for (const c of changes) {
    const company = c.id.slice(0, c.id.indexOf('/'));
    for (const f of c.impact) {
      if (f.type !== 'not-supervised') continue;
      let set = notSupervised.get(f.reason);
      if (!set) notSupervised.set(f.reason, (set = new Set()));
      for (const e of f.extensions) set.add(`${company}:${e}`);
    }
  }
  const extensions = (type: 'supervision-start' | 'supervision-stop') => {
    const set = new Set<string>();
    for (const c of changes) {
      const company = c.id.slice(0, c.id.indexOf('/'));
      for (const f of c.impact) if (f.type === type) for (const e of f.extensions) set.add(`${company}:${e}`);
    }
    return [...set].sort();
  };
  return {
    restarts: [...restarts.values()].map(({ engine, target, reason, extensionsInterrupted }) => ({ engine, target, reason, extensionsInterrupted })),
    supervisionStarts: extensions('supervision-start'),
    supervisionStops: extensions('supervision-stop'),
    notSupervised: [...notSupervised].map(([reason, set]) => ({ reason, extensions: [...set].sort() })),
    syncReruns: [...reruns.values()].map(({ engine, target, reason }) => ({ engine, target, reason })),
    syncUnsupported: [...unsupported.values()].map(({ engine, target, reason }) => ({ engine, target, reason })),
    ...licences,
  };
}

// (A user's own fields never change who is authorized: grants name users by id.)
const LICENCE_KINDS = new Set<KindName>(['Authorization', 'Group', 'License']);

/**
 * SHA-256 of the canonical desired state (secrets as fingerprints): what the plan was made
 * from. Order-independent — the sum modulo 2^256 of each resource's SHA-256 (kind, id and
 * canonical JSON), then hashed once more — so no sort of the whole state is needed, and each
 * resource's hash is cached with its canonical body (unchanged files cost nothing in `watch`).
 */
export function desiredDigest(desired: readonly DesiredResource[]): string {
  let sum = 0n;
  for (const d of desired) sum += resourceHash(d);
  sum &= (1n << 256n) - 1n;
  return `sha256:${createHash('sha256').update(sum.toString(16).padStart(64, '0')).update(String(desired.length)).digest('hex')}`;
}

const hashCache = new WeakMap<Body, bigint>();
function resourceHash(d: DesiredResource): bigint {
  let h = hashCache.get(d.body);
  if (h === undefined) {
    // One-shot hash(): no Hash object per resource (60,000 of them in a large plan).
    h = BigInt(`0x${hash('sha256', `${d.kind}\u0000${d.id}\u0000${JSON.stringify(d.body)}`, 'hex')}`);
    hashCache.set(d.body, h);
  }
  return h;
}

/** A digest of what a plan would do (changes and base revision), recorded in the audit log at apply. */
export function planDigest(plan: Pick<Plan, 'changes' | 'runtime'>): string {
  // JSON.stringify, not stableJson: a plan's key order is fixed when it is made and survives
  // a JSON round trip, and this runs over every change of large plans.
  return `sha256:${createHash('sha256').update(`${plan.runtime.revision}\n${JSON.stringify(plan.changes)}`).digest('hex')}`;
}

export async function makePlan(state: DesiredState, client: RuntimeClient, options: PlanOptions): Promise<Plan> {
  const desired = await plannedDesired(state, client, options.root);
  const allLive = await client.state();
  const liveState = options.company === undefined ? allLive : { ...allLive, resources: allLive.resources.filter((r) => belongsToCompany(r, options.company!)) };
  const live: CanonicalLive[] = liveState.resources.map((resource) => ({ resource, body: resource.body }));
  const result = diff(desired, live, { ...(options.targets ? { targets: options.targets } : {}), canonical: canonicalBody });
  const { changes: rc, owner } = runtimeChanges(result.changes);
  const impacts = rc.length > 0 ? await client.impact(rc) : [];
  const factsOf = new Map<number, ImpactFact[]>();
  for (const imp of impacts) {
    const i = owner[imp.index];
    if (i === undefined) continue;
    const facts = factsOf.get(i);
    if (facts) facts.push(...imp.facts);
    else factsOf.set(i, [...imp.facts]);
  }
  // The before/after states are only needed by the dial-plan and licence analyses.
  const needsStates = result.changes.some((c) => c.kind === 'DialPlan' || c.kind === 'Domain' || LICENCE_KINDS.has(c.kind));
  const before = needsStates ? live.map((l) => ({ kind: l.resource.kind, id: l.resource.id, body: l.body })) : [];
  const after = needsStates ? stateAfter(live, result.changes) : [];
  const behaviour = needsStates ? dialPlanChanges(before, after, result.changes) : new Map<number, BehaviourChange[]>();
  // Licence use only moves when authorizations, groups, users or licences change.
  const licences = result.changes.some((c) => LICENCE_KINDS.has(c.kind)) ? licenceImpact(before, after) : { licences: [], access: [] };
  const changes: PlannedChange[] = result.changes.map((c, i) => {
    const impact = factsOf.get(i) ?? [];
    const dialPlan = behaviour.get(i);
    return (c.action === 'update' && dialPlan ? { ...c, impact, dialPlan } : { ...c, impact }) as PlannedChange;
  });
  const warnings: PlanWarning[] = [...result.warnings];
  for (const l of licences.licences) {
    if (l.after > l.available) {
      warnings.push({ code: 'license-exceeded', message: `${l.application} in company '${l.company}' would be used by ${l.after} users but ${l.available} licences are available: the runtime will refuse this plan; raise the License or authorize fewer users` });
    }
  }
  const plan: Plan = {
    formatVersion: PLAN_FORMAT_VERSION,
    createdAt: (options.now ?? new Date()).toISOString(),
    runtime: { location: client.location, revision: liveState.revision },
    config: { root: options.root, digest: desiredDigest(desired), ...(options.git ? { git: options.git } : {}) },
    ...(options.targets && options.targets.length > 0 ? { targets: [...options.targets] } : {}),
    changes,
    unmanaged: result.unmanaged,
    liveCounts: countByKind(liveState.resources),
    summary: summarize(changes, result.unmanaged.length),
    impact: totalImpact(changes, licences),
    warnings,
  };
  return plan;
}

