/**
 * Build-time helpers over the kind schemas: inlining $refs, and generating from them the
 * editor schema (schemas/switchboard.schema.json) and the resource reference (docs/resources.md).
 */
import type { AnySchemaObject } from 'ajv';
import { SCHEMA_DIR, SCHEMA_ID_BASE, kindSchemas } from '../src/schema/registry.js';
import { inlineRefs } from '../src/schema/inline.js';
import { KIND_NAMES, kindInfo, scopeKey, type KindName } from '../src/model/kinds.js';
import { API_VERSION } from '../src/config/parse.js';

type Schema = AnySchemaObject;

/** The object schemas of a kind: the top level, or each branch of a discriminated union. */
function objectSchemas(s: Schema): Schema[] {
  return Array.isArray(s.oneOf) && s.discriminator ? (s.oneOf as Schema[]) : [s];
}

function withEnvelope(s: Schema, kind: KindName): Schema {
  const copy = structuredClone(s);
  for (const o of objectSchemas(copy)) {
    o.properties = { apiVersion: { const: API_VERSION, description: 'Always switchboard/v1.' }, kind: { const: kind, description: 'The resource kind.' }, ...(o.properties as Schema) };
  }
  return copy;
}

function asListItem(s: Schema, kind: KindName): Schema {
  const copy = structuredClone(s);
  const scope = scopeKey(kind);
  if (scope) for (const o of objectSchemas(copy)) if (Array.isArray(o.required)) o.required = (o.required as string[]).filter((r) => r !== scope);
  return copy;
}

/** One schema for any Switchboard YAML document, for editors (YAML language server). */
export function editorSchema(): Schema {
  const schemas = kindSchemas(SCHEMA_DIR);
  const allOf = KIND_NAMES.map((kind) => {
    const inlined = inlineRefs(schemas.get(`${kind}.schema.json`)!, schemas);
    const scope = scopeKey(kind);
    const list: Schema = {
      type: 'object',
      description: `A list of ${kind} resources${scope ? ` sharing one ${scope}` : ''}.`,
      required: ['items'],
      properties: {
        apiVersion: { const: API_VERSION },
        kind: { const: kind },
        ...(scope ? { [scope]: (inlined.properties as Schema | undefined)?.[scope] ?? { type: 'string' } } : {}),
        items: { type: 'array', items: asListItem(inlined, kind) },
      },
      additionalProperties: false,
    };
    return {
      if: { properties: { kind: { const: kind } }, required: ['kind'] },
      then: { anyOf: [list, withEnvelope(inlined, kind)] },
    };
  });
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `${SCHEMA_ID_BASE}switchboard.schema.json`,
    title: 'Switchboard document',
    description: 'Any Switchboard YAML document: one resource, or a list of resources of one kind (items). Generated from the kind schemas by `npm run gen`; do not edit.',
    type: 'object',
    required: ['apiVersion', 'kind'],
    properties: {
      apiVersion: { const: API_VERSION, description: 'Always switchboard/v1.' },
      kind: { enum: [...KIND_NAMES], description: 'The resource kind.' },
    },
    allOf,
  };
}

// ---------------------------------------------------------------------------------------
// docs/resources.md

function typeWords(s: Schema): string {
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (Array.isArray(s.enum)) return (s.enum as unknown[]).map((v) => `\`${String(v)}\``).join(' \\| ');
  if (Array.isArray(s.type)) return (s.type as string[]).join(' \\| ');
  if (s.type === 'array') return `list of ${s.items ? typeWords(s.items as Schema) : 'values'}`;
  if (typeof s.type === 'string') return s.type === 'object' ? 'mapping' : s.type;
  if (Array.isArray(s.oneOf) || Array.isArray(s.anyOf)) return ((s.oneOf ?? s.anyOf) as Schema[]).map(typeWords).join(' \\| ');
  return 'any';
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n+/g, ' ');

function rows(s: Schema, prefix: string, required: readonly string[], out: string[], depth = 0): void {
  for (const [name, p] of Object.entries((s.properties as Record<string, Schema> | undefined) ?? {})) {
    if (typeof p !== 'object') continue;
    const path = `${prefix}${name}`;
    const notes: string[] = [];
    if (required.includes(name)) notes.push('**required**');
    if (p['x-secret'] === true) notes.push('secret');
    if (p.default !== undefined) notes.push(`default \`${JSON.stringify(p.default)}\``);
    if (p.pattern) notes.push(`pattern \`${cell(String(p.pattern))}\``);
    out.push(`| \`${path}\` | ${cell(typeWords(p))} | ${notes.join(', ')} | ${cell(String(p.description ?? ''))} |`);
    if (depth < 3) {
      if (p.type === 'object' && p.properties) rows(p, `${path}.`, (p.required as string[] | undefined) ?? [], out, depth + 1);
      const items = p.items as Schema | undefined;
      if (p.type === 'array' && items?.properties) rows(items, `${path}[].`, (items.required as string[] | undefined) ?? [], out, depth + 1);
    }
  }
}

/** The reference of every kind, generated from the schemas. */
export function resourcesMarkdown(): string {
  const schemas = kindSchemas(SCHEMA_DIR);
  const parts = [
    '# Resource kinds',
    '',
    'Generated from `schemas/*.schema.json` by `npm run gen`; do not edit by hand. Every kind also accepts `protect: true` (a protected resource is never deleted or replaced by a plan).',
    'Secret fields accept `${env:NAME}` or `${file:relative/path}` (see [format.md](format.md#secrets)).',
    '',
    KIND_NAMES.map((k) => `- [${k}](#${k.toLowerCase()})`).join('\n'),
    '',
  ];
  for (const kind of KIND_NAMES) {
    const s = inlineRefs(schemas.get(`${kind}.schema.json`)!, schemas);
    const info = kindInfo(kind);
    parts.push(`## ${kind}`, '', String(s.description ?? ''), '');
    parts.push(`- Scope: ${info.scope === 'server' ? 'server-wide' : `\`${info.scope}\``}; id from ${info.identity.map((i) => `\`${i}\``).join(' + ')}`, `- Schema: [\`schemas/${kind}.schema.json\`](../schemas/${kind}.schema.json)`, '');
    const branches = objectSchemas(s);
    for (const b of branches) {
      if (branches.length > 1) {
        const tag = String((s.discriminator as Schema).propertyName);
        parts.push(`### ${kind} with \`${tag}: ${String((b.properties as Record<string, Schema>)[tag]?.const)}\``, '', String(b.description ?? ''), '');
      }
      const out: string[] = ['| field | type | notes | description |', '| --- | --- | --- | --- |'];
      rows(b, '', (b.required as string[] | undefined) ?? [], out);
      parts.push(...out, '');
    }
  }
  return `${parts.join('\n').trimEnd()}\n`;
}
