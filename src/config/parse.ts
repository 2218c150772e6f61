/**
 * Parsing one configuration file into resources, with diagnostics instead of exceptions.
 *
 * Design note — two parsers. Validation must be fast on large trees (10,000 users), and the
 * `yaml` package, which knows node positions, is about ten times slower than js-yaml. So a
 * file is parsed with js-yaml (YAML 1.2 core schema, duplicate keys rejected) when it can be,
 * and with `yaml` only when js-yaml refuses it (to report every syntax error with its
 * position) or when the file uses anchors/aliases (which `yaml` expands under a limit, so a
 * "billion laughs" file is refused instead of exhausting memory). Positions for diagnostics
 * are computed afterwards, only for files that have some (see positions.ts).
 *
 * Pure: takes the file's text, does no I/O.
 */
import jsYaml from 'js-yaml';
import type * as YAML from 'yaml';
import { yaml } from './yaml-lazy.js';
import { error, type NodePath, type PendingDiagnostic, type SourceRef } from '../diagnostics.js';
import { isKindName, KIND_NAMES, RUNTIME_ONLY_KINDS, scopeKey, type KindName } from '../model/kinds.js';
import { didYouMean } from '../util/suggest.js';

export const API_VERSION = 'switchboard/v1';

/** The most alias expansions a file may cause; beyond it the file is refused. */
export const MAX_ALIAS_COUNT = 100;

/** Syntax errors reported per file; the rest are counted. */
export const MAX_SYNTAX_ERRORS = 20;

/**
 * A resource as written in a file, before validation.
 * `body` holds its fields (scope key included, envelope removed); `source` locates it.
 */
export interface SourceResource {
  readonly kind: KindName;
  readonly body: Readonly<Record<string, unknown>>;
  readonly source: SourceRef;
  /** Set when the scope key (`company`/`domain`) came from the list document, not the item. */
  readonly inheritedScope?: 'company' | 'domain';
}

export interface ParsedFile {
  readonly resources: readonly SourceResource[];
  readonly diagnostics: readonly PendingDiagnostic[];
}

// An anchor (&a) or alias (*a) token: a conservative test, false positives only cost speed.
const ANCHOR_OR_ALIAS = /(^|[\s[{,:-])[&*][^\s,[\]{}]/m;

/** Deeper documents are refused: no configuration needs it, and parsers recurse per level. */
export const MAX_DEPTH = 64;

export function parseFile(file: string, text: string): ParsedFile {
  const diagnostics: PendingDiagnostic[] = [];
  let values: unknown[];
  try {
    values = parseDocuments(file, text, diagnostics);
  } catch (e) {
    // Parsers recurse; a pathological input (e.g. 100,000 nested brackets) can exhaust the stack.
    if (!isStackOverflow(e)) throw e;
    diagnostics.push(tooDeep(file, text));
    return { resources: [], diagnostics };
  }
  const resources: SourceResource[] = [];
  values.forEach((value, doc) => {
    if (value === SKIP) return;
    const deep = findTooDeep(value);
    if (deep) {
      diagnostics.push(error('yaml-too-deep', `document is nested more than ${MAX_DEPTH} levels deep; a configuration never needs that: flatten it`, { file, doc, path: deep }));
      return;
    }
    documentResources(file, doc, value, resources, diagnostics);
  });
  return { resources, diagnostics };
}

const SKIP = Symbol('skip');

function parseDocuments(file: string, text: string, diagnostics: PendingDiagnostic[]): unknown[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (!ANCHOR_OR_ALIAS.test(text)) {
    try {
      return jsYaml.loadAll(text, undefined, { schema: jsYaml.CORE_SCHEMA, filename: file });
    } catch {
      // fall through: the slower parser reports every error with its position
    }
  }
  return parseWithPositions(file, text, diagnostics);
}

function parseWithPositions(file: string, text: string, diagnostics: PendingDiagnostic[]): unknown[] {
  const lineCounter = new (yaml().LineCounter)();
  const docs = yaml().parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [];
  const at = (offset: number) => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };
  // A pathological file yields thousands of identical errors: report each once, and at most
  // MAX_SYNTAX_ERRORS per file.
  const seen = new Set<string>();
  let dropped = 0;
  const push = (d: PendingDiagnostic) => {
    const key = `${d.code}|${d.line}|${d.column}|${d.message}`;
    if (seen.has(key)) return;
    if (seen.size >= MAX_SYNTAX_ERRORS) {
      dropped++;
      return;
    }
    seen.add(key);
    diagnostics.push(d);
  };
  let reportedDepth = false;
  const values = list.map((d, i) => {
    for (const e of d.errors) {
      // The parser caught its own stack overflow: one located, fixable diagnostic instead.
      if (isStackOverflow(e)) {
        if (!reportedDepth) diagnostics.push(tooDeep(file, text, i));
        reportedDepth = true;
        continue;
      }
      push({ severity: 'error', code: yamlCode(e.code), message: yamlMessage(e), at: { file, doc: i, path: [] }, ...at(e.pos[0]) });
    }
    for (const w of d.warnings) push({ severity: 'warning', code: 'yaml-warning', message: w.message.split('\n')[0]!, at: { file, doc: i, path: [] }, ...at(w.pos[0]) });
    if (d.errors.length > 0) return SKIP;
    let value: unknown;
    try {
      value = d.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (e) {
      if (isStackOverflow(e)) {
        if (!reportedDepth) diagnostics.push(tooDeep(file, text, i));
        reportedDepth = true;
        return SKIP;
      }
      const alias = amplifyingAlias(d);
      diagnostics.push({
        severity: 'error',
        code: 'yaml-alias-limit',
        message: `${alias ? `alias *${alias.source} expands to ${alias.size} values here: ` : ''}an anchor may be used at most ${MAX_ALIAS_COUNT} times, counting what its aliases expand to (a resource-exhaustion pattern such as "billion laughs" goes far beyond): write the values out or use fewer aliases`,
        at: { file, doc: i, path: [] },
        ...(alias ? at(alias.offset) : {}),
      });
      return SKIP;
    }
    const cyclePath = findCycle(value);
    if (cyclePath) {
      diagnostics.push(error('yaml-recursive-alias', 'an alias refers to a node that contains it (a recursive structure); remove the recursive alias', { file, doc: i, path: cyclePath }));
      return SKIP;
    }
    return value;
  });
  if (dropped > 0) diagnostics.push({ severity: 'error', code: 'yaml-syntax', message: `… and ${dropped} more syntax errors in this file`, at: { file, doc: 0, path: [] }, line: 1, column: 1 });
  return values;
}

function isStackOverflow(e: unknown): boolean {
  // a RangeError thrown, or the parser's own error wrapping the one it caught
  return e instanceof Error && /Maximum call stack size exceeded/.test(e.message);
}

/**
 * The diagnostic for a document nested too deep to parse, at the first place where flow
 * collections (`[`, `{`) open more than MAX_DEPTH levels (quoted text and comments skipped),
 * or at the document when the depth comes from block indentation.
 */
function tooDeep(file: string, text: string, doc = 0): PendingDiagnostic {
  const offset = deepFlowOffset(text);
  const message = `document is nested more than ${MAX_DEPTH} levels deep${offset === undefined ? '' : ' here'}, too deep to parse; a configuration never needs that: flatten it`;
  if (offset === undefined) return error('yaml-too-deep', message, { file, doc, path: [] });
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { severity: 'error', code: 'yaml-too-deep', message, at: { file, doc, path: [] }, line, column: offset - lineStart + 1 };
}

/** Offset of the bracket that opens flow level MAX_DEPTH + 1, if any. One pass, no recursion. */
function deepFlowOffset(text: string): number | undefined {
  let depth = 0;
  let quote = 0; // the quote character code while inside a quoted scalar
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (quote) {
      if (c === 0x5c /* \\ */ && quote === 0x22) i++;
      else if (c === quote) quote = 0;
      continue;
    }
    if (c === 0x22 || c === 0x27) {
      // a quote opens a scalar only at the start of a token
      const p = i > 0 ? text.charCodeAt(i - 1) : 0x0a;
      if (p === 0x20 || p === 0x0a || p === 0x09 || p === 0x5b || p === 0x7b || p === 0x2c || p === 0x3a) quote = c;
    } else if (c === 0x23 /* # */ && (i === 0 || text.charCodeAt(i - 1) === 0x20 || text.charCodeAt(i - 1) === 0x0a)) {
      const nl = text.indexOf('\n', i);
      if (nl < 0) break;
      i = nl;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_DEPTH) return i;
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) depth--;
  }
  return undefined;
}

/**
 * The alias to point at when a document expands too many: walking aliases in document order,
 * the first one whose expansion brings the total over ten times the limit (the amplifying
 * step of a "billion laughs"), else the one with the largest expansion. Sizes count values,
 * memoized per anchored node, so this costs the size of the document, not of its expansion.
 */
function amplifyingAlias(doc: YAML.Document): { source: string; offset: number; size: number } | undefined {
  const Y = yaml();
  const sizes = new Map<unknown, number>();
  const cap = 1e12;
  const sizeOf = (node: unknown, depth: number): number => {
    if (depth > MAX_DEPTH * 4) return 1;
    if (Y.isAlias(node)) {
      const target = node.resolve(doc);
      if (!target) return 1;
      let n = sizes.get(target);
      if (n === undefined) {
        sizes.set(target, 1); // a recursive alias counts as one
        n = sizeOf(target, depth + 1);
        sizes.set(target, n);
      }
      return n;
    }
    if (Y.isPair(node)) return Math.min(cap, sizeOf(node.key, depth + 1) + sizeOf(node.value, depth + 1));
    if (Y.isCollection(node)) {
      let n = 1;
      for (const item of node.items) n = Math.min(cap, n + sizeOf(item, depth + 1));
      return n;
    }
    return 1;
  };
  let total = 0;
  let best: { source: string; offset: number; size: number } | undefined;
  let found: { source: string; offset: number; size: number } | undefined;
  Y.visit(doc, {
    Alias(_key, node) {
      const size = sizeOf(node, 0);
      const here = { source: node.source, offset: node.range?.[0] ?? 0, size };
      total += size;
      if (!best || size > best.size) best = here;
      if (total > MAX_ALIAS_COUNT * 10) {
        found = here;
        return Y.visit.BREAK;
      }
      return undefined;
    },
  });
  return found ?? best;
}

function yamlCode(code: string): string {
  switch (code) {
    case 'DUPLICATE_KEY':
      return 'yaml-duplicate-key';
    case 'TAB_AS_INDENT':
      return 'yaml-tab';
    default:
      return 'yaml-syntax';
  }
}

function yamlMessage(e: YAML.YAMLError): string {
  const first = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  if (e.code === 'DUPLICATE_KEY') return `${first}: remove or rename the duplicate key`;
  if (e.code === 'TAB_AS_INDENT') return `${first}: indent with spaces`;
  return first;
}

function findTooDeep(value: unknown): NodePath | undefined {
  // Iterative (the check itself cannot overflow the stack), allocation-free (it runs on
  // every document); the path is only built on failure.
  const values: unknown[] = [value];
  const depths: number[] = [0];
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop()!;
    if (depth > MAX_DEPTH) return deepestPath(value);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const x: unknown = v[i];
        if (x !== null && typeof x === 'object') {
          values.push(x);
          depths.push(depth + 1);
        }
      }
    } else if (v !== null && typeof v === 'object') {
      for (const k in v) {
        const x = (v as Record<string, unknown>)[k];
        if (x !== null && typeof x === 'object') {
          values.push(x);
          depths.push(depth + 1);
        }
      }
    }
  }
  return undefined;
}

/** The path to a node MAX_DEPTH levels down (only called when one exists). */
function deepestPath(value: unknown): NodePath {
  const path: (string | number)[] = [];
  let v = value;
  while (path.length < MAX_DEPTH && v !== null && typeof v === 'object') {
    const entries: [string | number, unknown][] = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
    const next = entries.find(([, x]) => x !== null && typeof x === 'object' && depthAtLeast(x, MAX_DEPTH - path.length - 1));
    if (!next) break;
    path.push(next[0]);
    v = next[1];
  }
  return path;
}

function depthAtLeast(v: unknown, n: number): boolean {
  const walk: { v: unknown; d: number }[] = [{ v, d: 0 }];
  while (walk.length > 0) {
    const { v: x, d } = walk.pop()!;
    if (d >= n) return true;
    if (x !== null && typeof x === 'object') for (const y of Array.isArray(x) ? x : Object.values(x)) if (y !== null && typeof y === 'object') walk.push({ v: y, d: d + 1 });
  }
  return false;
}

function findCycle(value: unknown, ancestors = new Set<object>(), path: (string | number)[] = []): NodePath | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (ancestors.has(value)) return path;
  ancestors.add(value);
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  for (const [k, v] of entries) {
    const found = findCycle(v, ancestors, [...path, k]);
    if (found) return found;
  }
  ancestors.delete(value);
  return undefined;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'a mapping' : `a ${typeof v}`;
}

function documentResources(file: string, doc: number, value: unknown, out: SourceResource[], diagnostics: PendingDiagnostic[]): void {
  if (value === null || value === undefined) return; // an empty document
  const at = (path: NodePath): SourceRef => ({ file, doc, path });
  if (!isPlainObject(value)) {
    diagnostics.push(error('document-not-mapping', `a document must be a mapping with apiVersion and kind, found ${describe(value)}`, at([])));
    return;
  }
  let ok = true;
  if (!('apiVersion' in value)) {
    diagnostics.push(error('missing-api-version', `document has no apiVersion: add 'apiVersion: ${API_VERSION}'`, at([])));
    ok = false;
  } else if (value.apiVersion !== API_VERSION) {
    diagnostics.push(error('api-version', `unsupported apiVersion '${String(value.apiVersion)}': use '${API_VERSION}'`, at(['apiVersion'])));
    ok = false;
  }
  const kind = value.kind;
  if (!('kind' in value)) {
    diagnostics.push(error('missing-kind', `document has no kind: add 'kind:' with one of ${KIND_NAMES.join(', ')}`, at([])));
    return;
  }
  if (!isKindName(kind)) {
    diagnostics.push(
      error('unknown-kind', `unknown kind '${String(kind)}'.${didYouMean(String(kind), KIND_NAMES) || ` Known kinds: ${KIND_NAMES.join(', ')}.`}`, at(['kind'])),
    );
    return;
  }
  if (RUNTIME_ONLY_KINDS.has(kind)) {
    diagnostics.push(error('runtime-only-kind', `${kind} resources are created by directory synchronization, not declared: configure a Directory instead`, at(['kind'])));
    return;
  }
  if (!ok) return;
  const scope = scopeKey(kind);
  if (!('items' in value)) {
    const { apiVersion: _a, kind: _k, ...body } = value;
    out.push({ kind, body, source: at([]) });
    return;
  }
  const items = value.items;
  for (const key of Object.keys(value)) {
    if (key === 'apiVersion' || key === 'kind' || key === 'items' || key === scope) continue;
    diagnostics.push(
      error(
        'list-document-field',
        `field '${key}' is not allowed beside 'items' in a list document; a list document holds only apiVersion, kind, ${scope ? `${scope}, ` : ''}and items: move '${key}' into each item`,
        at([key]),
        true,
      ),
    );
  }
  if (!Array.isArray(items)) {
    diagnostics.push(error('items-not-list', `'items' must be a list of ${kind} resources, found ${describe(items)}`, at(['items'])));
    return;
  }
  const docScope = scope ? value[scope] : undefined;
  items.forEach((item, j) => {
    if (!isPlainObject(item)) {
      diagnostics.push(error('item-not-mapping', `each item must be a mapping of ${kind} fields, found ${describe(item)}`, at(['items', j])));
      return;
    }
    if (scope && docScope !== undefined && scope in item) {
      if (item[scope] !== docScope) {
        diagnostics.push(
          error(
            'scope-conflict',
            `item says ${scope} '${String(item[scope])}' but its list document says '${String(docScope)}': remove it from the item or move the item to another document`,
            at(['items', j, scope]),
          ),
        );
        return;
      }
      out.push({ kind, body: item, source: at(['items', j]) });
    } else if (scope && docScope !== undefined) {
      // The parsed item is ours and belongs to this one document (aliases cannot cross
      // documents, and a document has one scope): adding the scope in place saves a copy of
      // every item of large lists.
      item[scope] = docScope;
      out.push({ kind, body: item, source: at(['items', j]), inheritedScope: scope });
    } else {
      out.push({ kind, body: item, source: at(['items', j]) });
    }
  });
}

/**
 * Where a field of a resource is written: inside the resource, or — for a scope key
 * inherited from a list document — at the document level.
 */
export function fieldRef(resource: Pick<SourceResource, 'source' | 'inheritedScope'>, path: NodePath): SourceRef {
  const { source } = resource;
  if (resource.inheritedScope !== undefined && path[0] === resource.inheritedScope) {
    return { file: source.file, doc: source.doc, path };
  }
  return { file: source.file, doc: source.doc, path: [...source.path, ...path] };
}
