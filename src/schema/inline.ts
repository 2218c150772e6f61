import type { AnySchemaObject } from 'ajv';

type Schema = AnySchemaObject;

/** A copy of `schema` with every `$ref` (local or into another file) replaced by its target. */
export function inlineRefs(schema: Schema, schemas: ReadonlyMap<string, Schema>): Schema {
  const resolve = (ref: string, file: Schema): { node: Schema; file: Schema } => {
    const [fileName, pointer = ''] = ref.split('#');
    const target = fileName ? schemas.get(fileName) : file;
    if (!target) throw new Error(`unresolvable $ref ${ref}`);
    let node: unknown = target;
    for (const part of pointer.split('/').filter(Boolean)) node = (node as Record<string, unknown>)[part];
    if (!node || typeof node !== 'object') throw new Error(`unresolvable $ref ${ref}`);
    return { node: node as Schema, file: target };
  };
  const walk = (node: unknown, file: Schema, depth: number): unknown => {
    if (depth > 50) throw new Error('$ref nesting too deep');
    if (Array.isArray(node)) return node.map((n) => walk(n, file, depth + 1));
    if (!node || typeof node !== 'object') return node;
    const n = node as Schema;
    let out: Schema = {};
    if (typeof n.$ref === 'string') {
      const { node: target, file: targetFile } = resolve(n.$ref, file);
      out = { ...(walk(target, targetFile, depth + 1) as Schema) };
    }
    for (const [k, v] of Object.entries(n)) {
      if (k === '$ref' || k === '$defs' || k === '$id' || k === '$schema') continue;
      out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as Schema).map(([p, s]) => [p, walk(s, file, depth + 1)])) : walk(v, file, depth + 1);
    }
    return out;
  };
  return walk(schema, schema, 0) as Schema;
}

