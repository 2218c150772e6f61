import type { Change, ChangeImpact, LiveState } from '../../src/runtime/types.js';

/** Impact facts for golden files: none until the runtime's engines are plugged in. */
export function fixtureImpact(_changes: readonly Change[], _live: LiveState): ChangeImpact[] {
  return [];
}
