/**
 * Applying a plan: turn it into one atomic change set for the runtime, with secret values
 * re-resolved from their references (a plan never holds them) and checked against the
 * fingerprints the plan was made with. Refuses unsafe plans before sending anything.
 */
import path from 'node:path';
import type { KindName } from '../model/kinds.js';
import type { Change, ChangeSetResult, RuntimeClient } from '../runtime/types.js';
import { parseSecretReference, type SecretSource } from '../config/secrets.js';
import { checkSafety, type SafetyOptions, type SafetyProblem } from '../plan/safety.js';
import { planDigest } from '../plan/planner.js';
import type { Body, Plan } from '../plan/types.js';

/** Gives the clear value of a planned secret, or undefined when it cannot be had. */
export type SecretValues = (kind: KindName, id: string, fieldPath: string, planned: { $secret: string; ref?: string }) => string | undefined;

/** Secret values from the references recorded in a saved plan (env, or files under the config root). */
export function secretsFromReferences(root: string, source: SecretSource): SecretValues {
  return (_kind, _id, _path, planned) => {
    if (!planned.ref) return undefined;
    const ref = parseSecretReference(planned.ref);
    if (!ref || ref.source === 'invalid') return undefined;
    if (ref.source === 'env') return source.env(ref.name);
    const read = source.file(path.join(root, 'x.yaml'), ref.path);
    return read.ok ? read.value : undefined;
  };
}

export type ApplyOutcome =
  | { readonly ok: true; readonly revision: number; readonly applied: number; readonly digest: string }
  | { readonly ok: false; readonly code: 'unsafe'; readonly message: string; readonly problems: readonly SafetyProblem[] }
  | { readonly ok: false; readonly code: 'secret'; readonly message: string }
  | (Extract<ChangeSetResult, { ok: false }> & { readonly ok: false });

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

class SecretError extends Error {}

/** The body to send: planned secrets that change become their values; unchanged ones stay fingerprints (the runtime keeps them). */
async function bodyToSend(kind: KindName, id: string, after: Body, before: Body | undefined, values: SecretValues, client: RuntimeClient): Promise<Record<string, unknown>> {
  const pending: { value: string; expected: string; where: string }[] = [];
  const walk = (v: unknown, b: unknown, p: string): unknown => {
    if (isObject(v) && typeof v.$secret === 'string') {
      if (isObject(b) && b.$secret === v.$secret) return { $secret: v.$secret };
      const value = values(kind, id, p, v as { $secret: string; ref?: string });
      if (value === undefined) {
        throw new SecretError(
          `${kind} '${id}' field ${p}: the secret cannot be resolved${typeof v.ref === 'string' ? ` from ${v.ref} (set it before applying)` : ' (it was written literally in YAML: apply from the configuration directory, or use ${env:NAME})'}`,
        );
      }
      pending.push({ value, expected: v.$secret, where: `${kind} '${id}' field ${p}` });
      return value;
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, Array.isArray(b) ? b[i] : undefined, `${p}[${i}]`));
    if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, isObject(b) ? b[k] : undefined, p ? `${p}.${k}` : k)]));
    return v;
  };
  const body = walk(after, before, '') as Record<string, unknown>;
  if (pending.length > 0) {
    const fps = await client.fingerprint(pending.map((p) => p.value));
    pending.forEach((p, i) => {
      if (fps[i] !== p.expected) throw new SecretError(`${p.where}: the secret's value changed since the plan was made: make a new plan`);
    });
  }
  return body;
}

export async function changeSetChanges(plan: Plan, values: SecretValues, client: RuntimeClient): Promise<Change[]> {
  const out: Change[] = [];
  for (const c of plan.changes) {
    if (c.action === 'delete') out.push({ action: 'delete', kind: c.kind, id: c.id });
    else if (c.action === 'create') out.push({ action: 'create', kind: c.kind, id: c.id, body: await bodyToSend(c.kind, c.id, c.after, undefined, values, client), manager: 'config' });
    else if (c.action === 'update') out.push({ action: 'update', kind: c.kind, id: c.id, body: await bodyToSend(c.kind, c.id, c.after, c.before, values, client) });
    else {
      out.push({ action: 'delete', kind: c.kind, id: c.id });
      out.push({ action: 'create', kind: c.kind, id: c.id, body: await bodyToSend(c.kind, c.id, c.after, undefined, values, client), manager: 'config' });
    }
  }
  return out;
}

export interface ApplyOptions extends SafetyOptions {
  readonly secrets: SecretValues;
  /** Who applies, for the audit log (the server overrides it with the token's admin). */
  readonly actor?: string;
}

/** Apply a plan as one change set at the revision it was made against. */
export async function applyPlan(plan: Plan, client: RuntimeClient, options: ApplyOptions): Promise<ApplyOutcome> {
  const problems = checkSafety(plan, options);
  if (problems.length > 0) return { ok: false, code: 'unsafe', message: problems.map((p) => p.message).join('\n'), problems };
  let changes: Change[];
  try {
    changes = await changeSetChanges(plan, options.secrets, client);
  } catch (e) {
    if (e instanceof SecretError) return { ok: false, code: 'secret', message: e.message };
    throw e;
  }
  const digest = planDigest(plan);
  const s = plan.summary;
  const result = await client.apply({
    baseRevision: plan.runtime.revision,
    changes,
    origin: {
      via: 'plan',
      ...(options.actor ? { actor: options.actor } : {}),
      planDigest: digest,
      ...(plan.config.git ? { gitCommit: plan.config.git.commit, gitDirty: plan.config.git.dirty } : {}),
      summary: `${s.create} to create, ${s.update} to update, ${s.replace} to replace, ${s.delete} to delete`,
    },
  });
  return result.ok ? { ok: true, revision: result.revision, applied: result.applied, digest } : result;
}
