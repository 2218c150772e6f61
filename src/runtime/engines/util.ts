/** Helpers shared by the built-in engines: body comparison with secrets as fingerprints. */
import type { KindName } from '../../model/kinds.js';
import { secretSlots, withValues } from '../crypto.js';
import type { EngineContext } from '../engines.js';

export { companyOfDomain } from '../../model/extensions.js';

type Body = Readonly<Record<string, unknown>>;

/**
 * A body with every secret as the live state shows it, `{ $secret: fingerprint }`, so a planned
 * body compares with a live one: a clear value is fingerprinted; a planned secret keeps only its
 * fingerprint (a plan also records where the value comes from, its `ref`).
 */
export function comparable(kind: KindName, body: Body, ctx: EngineContext): Body {
  const planned = (v: unknown): v is { $secret: string } => typeof v === 'object' && v !== null && typeof (v as { $secret?: unknown }).$secret === 'string' && Object.keys(v).length > 1;
  const slots = secretSlots(kind, body, (v) => typeof v === 'string' || planned(v));
  if (slots.length === 0) return body;
  return withValues(
    body,
    slots.map((s) => [s.path, { $secret: typeof s.value === 'string' ? ctx.fingerprint(s.value) : (s.value as { $secret: string }).$secret }] as const),
  );
}

/** Deep equality of JSON values, insensitive to key order. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => sameJson(v, bb[i]));
  }
  const ak = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const bk = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

