/**
 * How deeply a JSON value nests, measured without recursion.
 *
 * `JSON.parse` itself is iterative in V8 and takes a document nested 100,000 levels deep; what
 * comes after it (`JSON.stringify`, `structuredClone`, schema validation, any recursive walk)
 * then overflows the stack. Every place where a value from outside enters — the HTTP server's
 * body parser, the runtime's `apply` and `impact`, the HTTP client reading an answer — checks
 * the depth first with {@link tooDeepAt}, which walks the value with an explicit stack and
 * stops at the limit, so its own cost is bounded by the size of the value, never by its depth.
 *
 * Depth counts containers: `{}` and `[]` are at depth 1, `{"a": []}` is 2, a scalar is 0.
 * No Switchboard resource nests more than about ten levels; {@link MAX_JSON_DEPTH} leaves a wide
 * margin and still refuses anything meant to exhaust the stack.
 */

/** The deepest nesting accepted in a request body and in a resource body (64 containers). */
export const MAX_JSON_DEPTH = 64;

/** A step of a path into a value: an object key or an array index. */
export type JsonPathStep = string | number;

interface Frame {
  readonly node: object;
  /** Keys of an object (undefined for an array). */
  readonly keys: readonly string[] | undefined;
  readonly length: number;
  i: number;
}

/**
 * The path to the first container nested deeper than `limit`, or undefined when the value
 * stays within it. Iterative: safe on any depth. A cyclic value (possible only in process,
 * never from JSON) is reported as too deep, since following it never ends.
 */
export function tooDeepAt(value: unknown, limit: number = MAX_JSON_DEPTH): JsonPathStep[] | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (limit < 1) return [];
  // Most values are shallow: a quick walk that allocates nothing per container, and the path
  // only for a value that does go too deep.
  return exceeds(value, limit) ? pathTooDeep(value, limit) : undefined;
}

/** Whether `value` nests containers deeper than `limit`: a stack of nodes and a stack of depths. */
function exceeds(value: object, limit: number): boolean {
  const nodes: object[] = [value];
  const depths: number[] = [1];
  while (nodes.length > 0) {
    const node = nodes.pop()!;
    const depth = depths.pop()!;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const child: unknown = node[i];
        if (child === null || typeof child !== 'object') continue;
        if (depth >= limit) return true;
        nodes.push(child);
        depths.push(depth + 1);
      }
    } else {
      for (const key in node) {
        const child: unknown = (node as Record<string, unknown>)[key];
        if (child === null || typeof child !== 'object') continue;
        if (depth >= limit) return true;
        nodes.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}

/** The path to the first container deeper than `limit`, depth first (only called when there is one). */
function pathTooDeep(value: object, limit: number): JsonPathStep[] | undefined {
  const frames: Frame[] = [frameOf(value)];
  const path: JsonPathStep[] = [];
  while (frames.length > 0) {
    const top = frames[frames.length - 1]!;
    if (top.i >= top.length) {
      frames.pop();
      path.pop();
      continue;
    }
    const step: JsonPathStep = top.keys ? top.keys[top.i]! : top.i;
    top.i++;
    const child = (top.node as Record<JsonPathStep, unknown>)[step];
    if (child === null || typeof child !== 'object') continue;
    path.push(step);
    if (frames.length >= limit) return path;
    frames.push(frameOf(child));
  }
  return undefined;
}

function frameOf(node: object): Frame {
  if (Array.isArray(node)) return { node, keys: undefined, length: node.length, i: 0 };
  const keys = Object.keys(node);
  return { node, keys, length: keys.length, i: 0 };
}

/**
 * A path for a message: `changes/0/body/firstName/0/0/…` — the first steps only, each key cut
 * to 32 characters (a key is the sender's text; a message must stay short and quote little).
 */
export function describeJsonPath(path: readonly JsonPathStep[], steps = 8): string {
  if (path.length === 0) return 'the top level';
  const shown = path.slice(0, steps).map((s) => (typeof s === 'number' ? String(s) : s.length > 32 ? `${s.slice(0, 32)}…` : s));
  return shown.join('/') + (path.length > steps ? '/…' : '');
}

/**
 * A value handed to the runtime in process nests deeper than {@link MAX_JSON_DEPTH}. Named
 * `RuntimeError` like the runtime's other failures, so the CLI reports its message (and exits
 * 1) instead of crashing. Over HTTP the server refuses such a body first (400).
 */
export class JsonTooDeepError extends Error {
  override readonly name = 'RuntimeError';
  readonly code = 'too-deep';
  constructor(
    readonly what: string,
    readonly path: readonly JsonPathStep[],
    readonly limit: number = MAX_JSON_DEPTH,
  ) {
    super(`${what} nests more than ${limit} levels deep (at ${describeJsonPath(path)}): no resource does; send it as its schema describes it`);
  }
}
