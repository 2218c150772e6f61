/**
 * The canonical form of a resource body, the same for desired and live, so that comparing
 * them never yields a perpetual diff: defaults from the schema filled in, lists whose order
 * means nothing (`x-unordered`) sorted, lists ordered by a key (`x-sort-key`) sorted by it,
 * ordered lists (devices, overrides) kept in order, and secrets reduced to fingerprints.
 *
 * Pure: the schemas come from the schema registry (which owns reading them); secret values
 * are mapped by a function the caller gives.
 */
import type { AnySchemaObject } from 'ajv';
import { schemaRegistry } from '../schema/registry.js';
import type { KindName } from '../model/kinds.js';
import type { Body } from './types.js';

type Schema = AnySchemaObject;

/** The kind's schema with every $ref inlined (computed once per process, by the registry). */
export function kindSchema(kind: KindName): Schema {
  return schemaRegistry().inlined(kind);
}

/** Maps a secret field's value (a string, or a `{ $secret }` object) to its canonical form. */
export type SecretMapper = (value: unknown, path: string) => unknown;

/** The object schema that applies to `value`: a discriminated union picks its branch. */
function objectSchema(schema: Schema, value: Record<string, unknown>): Schema {
  const disc = schema.discriminator as { propertyName?: string } | undefined;
  if (disc?.propertyName && Array.isArray(schema.oneOf)) {
    const tag = value[disc.propertyName];
    const branch = (schema.oneOf as Schema[]).find((b) => (b.properties as Record<string, Schema> | undefined)?.[disc.propertyName!]?.const === tag);
    return branch ?? schema;
  }
  return schema;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Stable JSON: object keys sorted. The comparison key of canonical values. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (isObject(v)) {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => v[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

type Canonicalizer = (value: unknown, path: string, secret: SecretMapper) => unknown;

const byStableJson = (a: unknown, b: unknown) => {
  const x = stableJson(a);
  const y = stableJson(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/** Copy of a value with no schema to follow (unknown fields of hand-made live bodies). */
const plain: Canonicalizer = (value, path, secret) => {
  if (Array.isArray(value)) return value.map((v, i) => plain(v, `${path}[${i}]`, secret));
  if (isObject(value)) {
    const out: Record<string, unknown> = {};
    for (const k in value) out[k] = plain(value[k], path ? `${path}.${k}` : k, secret);
    return out;
  }
  return value;
};

/**
 * Compile a schema node into a function giving the canonical form of a value — once per
 * kind, because plans canonicalize tens of thousands of bodies: the schema is walked here,
 * not for every body.
 */
function compile(schema: Schema | undefined): Canonicalizer {
  if (!schema || typeof schema !== 'object') return plain;
  if (schema['x-secret'] === true) return (value, path, secret) => (value === undefined ? undefined : secret(value, path));
  const disc = (schema.discriminator as { propertyName?: string } | undefined)?.propertyName;
  if (disc && Array.isArray(schema.oneOf)) {
    const branches = new Map<unknown, Canonicalizer>();
    for (const b of schema.oneOf as Schema[]) branches.set((b.properties as Record<string, Schema> | undefined)?.[disc]?.const, compile(b));
    return (value, path, secret) => (isObject(value) ? (branches.get(value[disc]) ?? plain)(value, path, secret) : value);
  }
  const items = schema.items as Schema | undefined;
  const props = schema.properties as Record<string, Schema> | undefined;
  if (schema.type === 'array' || items) {
    const item = compile(items);
    const unordered = schema['x-unordered'] === true;
    const key = typeof schema['x-sort-key'] === 'string' ? (schema['x-sort-key'] as string) : undefined;
    return (value, path, secret) => {
      if (!Array.isArray(value)) return plain(value, path, secret);
      const out = value.map((v, i) => item(v, `${path}[${i}]`, secret));
      if (unordered) return out.sort(byStableJson);
      if (key) {
        return out.sort((a, b) => {
          const ka = isObject(a) ? a[key] : undefined;
          const kb = isObject(b) ? b[key] : undefined;
          return typeof ka === 'number' && typeof kb === 'number' ? ka - kb : String(ka).localeCompare(String(kb));
        });
      }
      return out;
    };
  }
  if (props) {
    const children = new Map(Object.entries(props).map(([k, p]) => [k, compile(p)]));
    const defaults = Object.entries(props).filter(([, p]) => p && typeof p === 'object' && p.default !== undefined && p['x-secret'] !== true);
    return (value, path, secret) => {
      if (!isObject(value)) return plain(value, path, secret);
      // Keys in sorted order: canonical values then serialize identically (JSON.stringify is
      // their comparison and digest key), whatever the order they were written in.
      const keys = Object.keys(value).filter((k) => value[k] !== undefined);
      for (const [k] of defaults) if (value[k] === undefined) keys.push(k);
      keys.sort();
      const out: Record<string, unknown> = {};
      for (const k of keys) {
        const v = value[k];
        if (v !== undefined) out[k] = (children.get(k) ?? plain)(v, path ? `${path}.${k}` : k, secret);
        else {
          const d = props[k]!.default as unknown;
          out[k] = typeof d === 'object' && d !== null ? structuredClone(d) : d;
        }
      }
      return out;
    };
  }
  return plain;
}

const compiled = new Map<KindName, Canonicalizer>();

/** The canonical form of a body of `kind`. Never mutates `body`. */
export function canonicalize(kind: KindName, body: Body, secret: SecretMapper): Body {
  let c = compiled.get(kind);
  if (!c) compiled.set(kind, (c = compile(kindSchema(kind))));
  return c(body, '', secret) as Body;
}

/** Paths (dotted, `[i]` for list items) of the fields marked `x-immutable` that differ. */
export function immutableChanges(kind: KindName, before: Body, after: Body): string[] {
  const schema = objectSchema(kindSchema(kind), after as Record<string, unknown>);
  const props = (schema.properties as Record<string, Schema> | undefined) ?? {};
  return Object.entries(props)
    .filter(([k, p]) => p?.['x-immutable'] === true && stableJson(before[k]) !== stableJson(after[k]))
    .map(([k]) => k);
}
