/**
 * A RuntimeClient over a fixed live state, for golden-file tests of the planner and the
 * renderers (test/fixtures/plan/<case>/): the live side is the validated `before/` tree
 * (as a plan-applied runtime would hold it) plus `live.json` overrides. Fingerprints are an
 * HMAC under a fixed key, so golden files are stable. Integration with the real runtime is
 * tested in test/scenarios.
 */
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { validateConfig } from '../../src/validate/validate.js';
import { processSecretSource } from '../../src/config/secrets.js';
import { getPath } from '../../src/model/resource.js';
import { licenceStatus } from '../../src/model/licences.js';
import type { Change, ChangeImpact, LiveResource, LiveState, RuntimeClient } from '../../src/runtime/types.js';
import type { DesiredState } from '../../src/model/resource.js';

export const fixtureFingerprint = (v: string) => `hmac-sha256:${createHmac('sha256', 'fixture-key').update(v).digest('base64url')}`;

/** The live resources a runtime would hold after applying `state` (secrets as fingerprints). */
export function liveFrom(state: DesiredState): LiveResource[] {
  return state.resources.map((r) => {
    const body = structuredClone(r.body) as Record<string, unknown>;
    for (const p of r.secrets) {
      const v = getPath(body, p);
      if (typeof v !== 'string') continue;
      let o: Record<string | number, unknown> = body;
      for (const step of p.slice(0, -1)) o = o[step] as Record<string | number, unknown>;
      o[p[p.length - 1]!] = { $secret: fixtureFingerprint(v) };
    }
    return { kind: r.kind, id: r.id, body, manager: 'config', revision: 1, updatedAt: '2026-01-01T00:00:00.000Z', updatedBy: 'config', updatedVia: 'plan' };
  });
}

export interface FixtureOptions {
  readonly impact?: (changes: readonly Change[], live: LiveState) => ChangeImpact[];
}

export function fixtureRuntime(live: LiveState, options: FixtureOptions = {}): RuntimeClient {
  return {
    location: 'fixture',
    state: async () => live,
    fingerprint: async (values) => values.map(fixtureFingerprint),
    apply: async () => {
      throw new Error('the fixture runtime does not apply');
    },
    impact: async (changes) => options.impact?.(changes, live) ?? [],
    audit: async () => [],
    status: async () => ({ revision: live.revision, engines: [] }),
    links: async () => [],
    licences: async () => licenceStatus(live.resources),
    extensions: async () => [],
    close: async () => {},
  };
}

/** Load a fixture case: desired state, and the live state from before/ + live.json. */
export function loadCase(dir: string, env: Record<string, string>): { desired: DesiredState; live: LiveState } {
  const validate = (d: string) => {
    const r = validateConfig(d, { secrets: processSecretSource(env, path.dirname(d)) });
    if (!r.ok) throw new Error(`fixture ${d} is invalid: ${r.diagnostics.map((x) => `${x.file}:${x.line}:${x.column} ${x.message}`).join('; ')}`);
    return r.state;
  };
  const desired = validate(path.join(dir, 'desired'));
  const before = existsSync(path.join(dir, 'before')) ? liveFrom(validate(path.join(dir, 'before'))) : [];
  const extra = existsSync(path.join(dir, 'live.json')) ? (JSON.parse(readFileSync(path.join(dir, 'live.json'), 'utf8')) as { revision?: number; resources: LiveResource[] }) : { resources: [] };
  const byKey = new Map(before.map((r) => [`${r.kind}/${r.id}`, r]));
  for (const r of extra.resources) byKey.set(`${r.kind}/${r.id}`, { ...byKey.get(`${r.kind}/${r.id}`), ...r });
  return { desired, live: { revision: extra.revision ?? (before.length ? 1 : 0), resources: [...byKey.values()] } };
}
