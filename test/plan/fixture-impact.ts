import { builtinEngines, stateAfter, type EngineContext } from '../../src/runtime/engines.js';
import type { Change, ChangeImpact, ImpactFact, LiveState } from '../../src/runtime/types.js';
import { fixtureFingerprint } from './fixture-runtime.js';

/** Impact facts for golden files, from the runtime's real engines (their `impact` is pure). */
export function fixtureImpact(changes: readonly Change[], live: LiveState): ChangeImpact[] {
  const engines = builtinEngines();
  const ctx: EngineContext = {
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} } as unknown as EngineContext['log'],
    fingerprint: fixtureFingerprint,
    secret: () => undefined,
    now: () => new Date('2026-06-01T12:00:00.000Z'),
  };
  const byKey = new Map(live.resources.map((r) => [`${r.kind}/${r.id}`, r]));
  const after = stateAfter(live, changes);
  const out: ChangeImpact[] = [];
  changes.forEach((change, index) => {
    const facts: ImpactFact[] = [];
    for (const e of engines) if (e.impact && e.kinds.includes(change.kind)) facts.push(...e.impact(change, byKey.get(`${change.kind}/${change.id}`), live, ctx, after));
    if (facts.length > 0) out.push({ index, facts });
  });
  return out;
}
