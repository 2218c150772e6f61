/**
 * Turning pending diagnostics (file, document, path) into located ones (line, column).
 *
 * Only files that have diagnostics are re-parsed, with the `yaml` package, which keeps node
 * ranges. A path that does not exist (a missing required field) points at the deepest node
 * that does, so every diagnostic lands on the exact value, key or list item it is about.
 */
import type * as YAML from 'yaml';
import { yaml } from './yaml-lazy.js';
import { pathToString, sortDiagnostics, type Diagnostic, type NodePath, type PendingDiagnostic, type SourceRef } from '../diagnostics.js';

interface ParsedText {
  readonly docs: YAML.Document.Parsed[];
  readonly lineCounter: YAML.LineCounter;
}

export function locate(pending: readonly PendingDiagnostic[], texts: ReadonlyMap<string, string>): Diagnostic[] {
  const cache = new Map<string, ParsedText>();
  const parsed = (file: string): ParsedText | undefined => {
    const text = texts.get(file);
    if (text === undefined) return undefined;
    let p = cache.get(file);
    if (!p) {
      const lineCounter = new (yaml().LineCounter)();
      const docs = yaml().parseAllDocuments(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, { lineCounter, uniqueKeys: false });
      p = { docs: Array.isArray(docs) ? docs : [], lineCounter };
      cache.set(file, p);
    }
    return p;
  };
  const position = (at: SourceRef, key: boolean) => {
    const p = parsed(at.file);
    const offset = p ? nodeOffset(p.docs[at.doc], at.path, key) : undefined;
    const pos = p && offset !== undefined ? p.lineCounter.linePos(offset) : { line: 1, col: 1 };
    return { line: pos.line, column: pos.col };
  };
  const out = pending.map((d): Diagnostic => {
    let message = d.message;
    if (d.related) {
      const r = position(d.related.at, false);
      message += ` (${d.related.label} at ${d.related.at.file}:${r.line}:${r.column})`;
    }
    const base = { severity: d.severity, code: d.code, message };
    if (!d.at) return base;
    const path = d.at.path.length > 0 ? pathToString(d.at.path) : undefined;
    if (d.line !== undefined) return { ...base, file: d.at.file, line: d.line, column: d.column ?? 1, ...(path ? { path } : {}) };
    return { ...base, file: d.at.file, ...position(d.at, d.key === true), ...(path ? { path } : {}) };
  });
  return sortDiagnostics(out);
}

/** Offset of the node at `path` (or of its key), falling back to the deepest existing ancestor. */
function nodeOffset(doc: YAML.Document.Parsed | undefined, path: NodePath, key: boolean): number | undefined {
  if (!doc) return undefined;
  let node: unknown = doc.contents;
  let offset = rangeStart(node) ?? doc.range[0];
  for (let i = 0; i < path.length; i++) {
    const step = path[i]!;
    if (yaml().isAlias(node)) node = node.resolve(doc);
    if (yaml().isMap(node)) {
      const pair = node.items.find((it) => yaml().isScalar(it.key) && String(it.key.value) === String(step));
      if (!pair) return offset;
      const last = i === path.length - 1;
      if (last && key) return rangeStart(pair.key) ?? offset;
      node = pair.value;
      // a key with no value (`name:`) has no value node: point at the key
      offset = rangeStart(node) ?? rangeStart(pair.key) ?? offset;
    } else if (yaml().isSeq(node) && typeof step === 'number') {
      const item = node.items[step];
      if (item === undefined) return offset;
      node = item;
      offset = rangeStart(node) ?? offset;
    } else {
      return offset;
    }
  }
  return offset;
}

function rangeStart(node: unknown): number | undefined {
  return yaml().isNode(node) && node.range ? node.range[0] : undefined;
}
