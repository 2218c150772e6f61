/**
 * The bounded matcher: user regular expressions (dial-plan rules; any other user pattern through
 * `compileBoundedRegex`) are matched here, never by JavaScript's own backtracking engine.
 *
 * Design note. The parser's tree (regex.ts) is compiled into a small program and run as a
 * backtracking machine that remembers which (instruction, position) pairs it has already
 * explored — RE2's "BitState" technique. Without back-references, what can happen from a given
 * instruction at a given position does not depend on how it was reached, so a pair explored once
 * (and failed) never needs exploring again: the work is at most programSize × (length + 1) steps,
 * while the depth-first order keeps JavaScript's leftmost-first (backtracking) answer exactly,
 * captures included, greedy and lazy. The visited set is shared by all start positions of an
 * unanchored search.
 *
 * What JavaScript's semantics need on top of plain BitState:
 *  - An iteration of `*`, `+`, `{n,}`, `{n,m}` past the minimum that matches the empty string
 *    fails (ECMAScript RepeatMatcher). That depends on where the iteration started, which an
 *    (instruction, position) pair does not know. The compiler therefore makes it part of the
 *    instruction: code inside a possibly-empty repeated body is compiled per "state", the number
 *    of innermost such iterations that have not consumed a character yet (consuming resets it
 *    to 0; the end of an iteration in a non-zero state is a FAIL). Identical instructions are
 *    shared (hash-consing), so the copies cost little. Every cycle of the program then consumes a
 *    character, so the (instruction, position) graph is acyclic.
 *  - Each iteration clears the captures of the groups inside the repeated body (RESET).
 *  - Lookaround is atomic and its result depends only on the position: each lookaround body is
 *    a sub-program whose success or failure at each position is remembered (a visited bit for
 *    "explored and failed", a "good" bit for states on a successful path, found through FINISH
 *    jobs left on the stack), so all evaluations of one lookaround together take at most
 *    size × (length + 1) steps. A lookbehind body is compiled right to left and run backwards
 *    from the position, as V8 does, so its captures are the same as V8's.
 *  - Captures set inside a positive lookaround are written as a marker (lookaround, position)
 *    during the search and computed only for the winning match: at most one extra run of the
 *    sub-program per capturing group.
 *  - Back-references make the future depend on captured text, so remembering pairs would be
 *    unsound: a program with a back-reference runs as plain backtracking with a step budget
 *    (BACKREF_STEP_BUDGET) and throws `BoundedRegexError` ('regex-budget') past it.
 *  - Counted repetitions are expanded; the expansion is estimated before compiling and the
 *    program refused past MAX_PROGRAM_SIZE instructions ('regex-too-large'), so compiling is
 *    bounded too.
 * The bit sets need programSize × (length + 1) bits each; inputs that would need more than
 * MAX_VISITED_BITS are refused ('regex-input-too-long') instead of allocating without limit.
 */
import { nullable, parseRegex, RegexSubsetError, walkRegex, type CharSet, type ParsedRegex, type RegexNode } from './regex.js';

/** Most instructions a compiled pattern may have (lookaround sub-programs included). */
export const MAX_PROGRAM_SIZE = 500;
/** Most steps one match attempt of a pattern with back-references may take. */
export const BACKREF_STEP_BUDGET = 50_000;
/** Most bits one visited set may take: programSize × (input length + 1). */
export const MAX_VISITED_BITS = 1 << 24;

/** Stable codes of {@link BoundedRegexError}. */
export type BoundedRegexErrorCode =
  /** JavaScript refuses the pattern (its message is kept). */
  | 'regex-invalid'
  /** A construct outside the supported .NET/JavaScript subset. */
  | 'regex-unsupported'
  /** The pattern expands to more than MAX_PROGRAM_SIZE instructions. */
  | 'regex-too-large'
  /** A pattern with back-references took more than BACKREF_STEP_BUDGET steps on one input. */
  | 'regex-budget'
  /** The input is too long for the pattern's visited set (MAX_VISITED_BITS). */
  | 'regex-input-too-long';

/**
 * Why a user pattern cannot be compiled (`regex-invalid`, `regex-unsupported`,
 * `regex-too-large`) or matched (`regex-budget`, `regex-input-too-long`). The message says
 * what is wrong and how to fix it; callers add where (rule, field expression).
 */
export class BoundedRegexError extends Error {
  constructor(
    readonly code: BoundedRegexErrorCode,
    /** The pattern as given. */
    readonly pattern: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BoundedRegexError';
  }
}

/** A successful match, shaped like the useful part of JavaScript's RegExpExecArray. */
export interface BoundedMatch {
  /** Where the match starts in the input. */
  readonly index: number;
  /** [0] the matched text, [n] the text of group n; undefined when the group took no part. */
  readonly captures: readonly (string | undefined)[];
  /** Named groups, when the pattern has any. */
  readonly groups?: Readonly<Record<string, string | undefined>>;
}

/** Receives the number of steps a match took (for tests and benchmarks). */
export interface StepCounter {
  steps: number;
}

/** Options of {@link compileBoundedRegex}. */
export interface BoundedRegexOptions {
  /** Match only at the start of the input, like `^(?:pattern)` (dial-plan rules). Default false. */
  readonly anchored?: boolean;
}

// ── the program ──
// Instructions are four int32 each: op, a, b, c. `b` is the next instruction unless noted.
const CHAR = 0; //          a = set; b = next
const CHAR_BACK = 1; //     a = set; b = next (reads the character before the position, moves left)
const SPLIT = 2; //         a = tried first, b = tried second
const SAVE = 3; //          a = slot; b = next
const RESET = 4; //         slots a … c-1 become unset; b = next
const ASSERT = 5; //        a = ^ $ \b \B; b = next
const LOOK = 6; //          a = lookaround; b = next
const BACKREF = 7; //       a = group; b = next when it matched nothing, c = next when it consumed
const BACKREF_BACK = 8; //  the same, leftwards
const MATCH = 9;
const FAIL = 10;

const A_START = 0;
const A_END = 1;
const A_WORD = 2;
const A_NOT_WORD = 3;

/** Continuation: the instruction to go to in each state (see the design note). */
type K = (state: number) => number;

function memo(f: K): K {
  const cache: number[] = [];
  return (t) => cache[t] ?? (cache[t] = f(t));
}

class Builder {
  readonly code: number[] = [];
  private readonly cons = new Map<string, number>();
  private failPc = -1;
  constructor(private readonly c: Compiler) {}

  fail(): number {
    if (this.failPc < 0) this.failPc = this.raw(FAIL, 0, 0, 0);
    return this.failPc;
  }
  private raw(op: number, a: number, b: number, c: number): number {
    this.c.count();
    const pc = this.code.length >> 2;
    this.code.push(op, a, b, c);
    return pc;
  }
  /** An instruction, shared with an identical one when there is one; dead ends become FAIL. */
  emit(op: number, a: number, b: number, c: number): number {
    const f = this.failPc;
    if (f >= 0) {
      if (op === SPLIT) {
        if (a === f || a === b) return b;
        if (b === f) return a;
      } else if (op === BACKREF || op === BACKREF_BACK) {
        if (b === f && c === f) return f;
      } else if (op !== MATCH && op !== FAIL && b === f) {
        return f;
      }
    }
    if (op === FAIL) return this.fail();
    const key = `${op},${a},${b},${c}`;
    const hit = this.cons.get(key);
    if (hit !== undefined) return hit;
    const pc = this.raw(op, a, b, c);
    this.cons.set(key, pc);
    return pc;
  }
  /** A placeholder for a loop head, filled in by `patch` once its body exists. */
  reserve(): number {
    return this.raw(FAIL, 0, 0, 0);
  }
  patch(pc: number, op: number, a: number, b: number, c: number): void {
    this.code.splice(pc << 2, 4, op, a, b, c);
  }
}

interface LookDraft {
  readonly builder: Builder;
  readonly negate: boolean;
  readonly behind: boolean;
  /** Capture slots of the groups inside the lookaround: [slotLo, slotHi). */
  readonly slotLo: number;
  readonly slotHi: number;
  entry: number;
}

/** Capture slots of the groups inside n: [lo, hi), empty when there are none. */
function slotRange(n: RegexNode): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  walkRegex(n, (m) => {
    if (m.t === 'group' && m.index !== undefined) {
      lo = Math.min(lo, m.index);
      hi = Math.max(hi, m.index);
    }
  });
  return lo === Infinity ? [0, 0] : [2 * lo, 2 * hi + 2];
}

/** A pattern or text in a message: as written (no JSON escaping of its backslashes), shortened. */
const quote = (s: string, max = 40) => `"${s.length > max ? `${s.slice(0, max)}…` : s}"`;

/** An upper bound of the instructions n compiles to, ignoring sharing (Infinity past the cap). */
function estimate(n: RegexNode): number {
  let out: number;
  switch (n.t) {
    case 'char':
    case 'assert':
    case 'backref':
      return 1;
    case 'look':
      out = estimate(n.body) + 2;
      break;
    case 'group':
      out = estimate(n.body) + (n.capture ? 2 : 0);
      break;
    case 'seq':
      out = n.items.reduce((sum, i) => sum + estimate(i), 0);
      break;
    case 'alt':
      out = n.branches.reduce((sum, b) => sum + estimate(b) + 1, 0);
      break;
    case 'quant': {
      // mandatory copies: the body (and a RESET); optional ones: a SPLIT more; the loop: a head
      const body = estimate(n.body) + (slotRange(n.body)[1] > 0 ? 1 : 0);
      const optional = n.max === Infinity ? 2 : n.max - n.min;
      if (n.max === 0) return 1;
      if (body === Infinity) return Infinity;
      out = n.min * body + optional * (body + 1);
      break;
    }
  }
  return out > MAX_PROGRAM_SIZE ? Infinity : out;
}

class Compiler {
  private size = 0;
  readonly sets: CharSet[] = [];
  private readonly setIds = new Map<string, number>();
  readonly looks: LookDraft[] = [];
  private readonly lookIds = new Map<RegexNode, number>();
  readonly builders: Builder[] = [];
  private readonly slotRanges = new Map<RegexNode, [number, number]>();

  constructor(private readonly parsed: ParsedRegex) {}

  count(): void {
    if (++this.size > MAX_PROGRAM_SIZE) throw this.tooLarge();
  }

  tooLarge(): BoundedRegexError {
    // name the repetition that costs most, which is what to change
    let worst: RegexNode | undefined;
    let worstCost = 0;
    walkRegex(this.parsed.root, (n) => {
      if (n.t !== 'quant') return;
      const cost = estimate(n);
      if (cost > worstCost || (cost === worstCost && worst === undefined)) {
        worst = n;
        worstCost = cost;
      }
    });
    const src = this.parsed.source;
    const culprit = worst ? `; ${quote(src.slice(worst.start, worst.end))} is repeated too many times` : '';
    return new BoundedRegexError(
      'regex-too-large',
      src,
      `the pattern expands to more than ${MAX_PROGRAM_SIZE.toLocaleString('en-US')} instructions${culprit}: use smaller counts in {n,m}, or + and * instead of large counts`,
    );
  }

  builder(): Builder {
    const b = new Builder(this);
    this.builders.push(b);
    return b;
  }

  private setId(set: CharSet): number {
    const key = set.join(',');
    let id = this.setIds.get(key);
    if (id === undefined) {
      id = this.sets.length;
      this.sets.push(set);
      this.setIds.set(key, id);
    }
    return id;
  }

  private slots(n: RegexNode): [number, number] {
    let r = this.slotRanges.get(n);
    if (!r) this.slotRanges.set(n, (r = slotRange(n)));
    return r;
  }

  private lookId(n: Extract<RegexNode, { t: 'look' }>): number {
    let id = this.lookIds.get(n);
    if (id !== undefined) return id;
    id = this.looks.length;
    this.lookIds.set(n, id);
    const builder = this.builder();
    const [slotLo, slotHi] = this.slots(n.body);
    const draft: LookDraft = { builder, negate: n.negate, behind: n.behind, slotLo, slotHi, entry: -1 };
    this.looks.push(draft);
    const match = builder.emit(MATCH, 0, 0, 0);
    draft.entry = this.compile(n.body, () => match, n.behind ? -1 : 1, builder)(0);
    return id;
  }

  /** Code for n followed by k, read left to right (dir 1) or right to left (dir -1). */
  compile(n: RegexNode, k: K, dir: 1 | -1, b: Builder): K {
    switch (n.t) {
      case 'char': {
        // a character always continues in state 0 (something was consumed): one instruction
        const pc = b.emit(dir > 0 ? CHAR : CHAR_BACK, this.setId(n.set), k(0), 0);
        return () => pc;
      }
      case 'assert': {
        const kind = n.kind === '^' ? A_START : n.kind === '$' ? A_END : n.kind === '\\b' ? A_WORD : A_NOT_WORD;
        return memo((t) => b.emit(ASSERT, kind, k(t), 0));
      }
      case 'look': {
        const id = this.lookId(n);
        return memo((t) => b.emit(LOOK, id, k(t), 0));
      }
      case 'backref': {
        const group = n.group ?? this.parsed.groupNames.get(n.name!)!;
        return memo((t) => b.emit(dir > 0 ? BACKREF : BACKREF_BACK, group, k(t), k(0)));
      }
      case 'group': {
        if (n.index === undefined) return this.compile(n.body, k, dir, b);
        // right to left, the end of the group is reached first
        const open = dir > 0 ? 2 * n.index : 2 * n.index + 1;
        const close = dir > 0 ? 2 * n.index + 1 : 2 * n.index;
        const body = this.compile(n.body, memo((t) => b.emit(SAVE, close, k(t), 0)), dir, b);
        return memo((t) => b.emit(SAVE, open, body(t), 0));
      }
      case 'seq': {
        let cur = k;
        const items = dir > 0 ? [...n.items].reverse() : n.items;
        for (const item of items) cur = this.compile(item, cur, dir, b);
        return cur;
      }
      case 'alt': {
        const ks = n.branches.map((branch) => this.compile(branch, k, dir, b));
        return memo((t) => {
          let pc = ks[ks.length - 1]!(t);
          for (let i = ks.length - 2; i >= 0; i--) pc = b.emit(SPLIT, ks[i]!(t), pc, 0);
          return pc;
        });
      }
      case 'quant':
        return this.quant(n, k, dir, b);
    }
  }

  private quant(n: Extract<RegexNode, { t: 'quant' }>, k: K, dir: 1 | -1, b: Builder): K {
    const [lo, hi] = this.slots(n.body);
    const reset = (inner: K): K => (hi > lo ? memo((t) => b.emit(RESET, lo, inner(t), hi)) : inner);
    const choose = (iterate: number, skip: number) => (n.lazy ? b.emit(SPLIT, skip, iterate, 0) : b.emit(SPLIT, iterate, skip, 0));
    const empty = nullable(n.body);
    const fail = () => b.fail();
    // one optional iteration, then `next`; an empty optional iteration fails
    const optional = (next: K): K => {
      if (!empty) {
        const iterate = reset(this.compile(n.body, next, dir, b));
        return memo((t) => choose(iterate(t), next(t)));
      }
      const iterate = reset(this.compile(n.body, (s) => (s === 0 ? next(0) : fail()), dir, b));
      return memo((t) => choose(iterate(t + 1), next(t)));
    };
    let after = k;
    let mandatory = n.min;
    if (n.max === Infinity) {
      // head(t): iterate again or leave; the body loops back to head(0) after consuming
      const head0 = b.reserve();
      const iterate = empty
        ? reset(this.compile(n.body, (s) => (s === 0 ? head0 : fail()), dir, b))
        : reset(this.compile(n.body, () => head0, dir, b));
      const enter = (t: number) => (empty ? iterate(t + 1) : iterate(t));
      const [x, y] = n.lazy ? [k(0), enter(0)] : [enter(0), k(0)];
      b.patch(head0, SPLIT, x, y, 0);
      const head = memo((t) => (t === 0 ? head0 : choose(enter(t), k(t))));
      if (!empty && mandatory > 0) {
        // x+ with a body that always consumes: the first iteration is the loop body itself
        after = iterate;
        mandatory--;
      } else {
        after = head;
      }
    } else {
      for (let i = n.min; i < n.max; i++) after = optional(after);
    }
    for (let i = 0; i < mandatory; i++) after = reset(this.compile(n.body, after, dir, b));
    return after;
  }
}

/** A lookaround sub-program, laid out in the program. */
interface Look {
  readonly index: number;
  readonly entry: number;
  readonly negate: boolean;
  /** Its instructions are [pcStart, pcEnd). */
  readonly pcStart: number;
  readonly pcEnd: number;
  readonly slotLo: number;
  readonly slotHi: number;
  /** Inner capture values of the last successful evaluation (budgeted mode). */
  readonly scratch: Int32Array;
}

const MAX_STARTS = 8;
interface Start {
  readonly text: string;
  /** n matches exactly `text` on this path (so what follows n extends it). */
  readonly complete: boolean;
}
const UNKNOWN: Start[] = [{ text: '', complete: false }];

/**
 * Short literal strings one of which starts every match of n (at most MAX_STARTS; a path about
 * which nothing is known gives ''). `(\+|00)33` → "+33", "0033".
 */
function startStrings(n: RegexNode): Start[] {
  switch (n.t) {
    case 'char': {
      const set = n.set;
      const chars: Start[] = [];
      for (let i = 0; i < set.length; i += 2) {
        for (let c = set[i]!; c <= set[i + 1]!; c++) {
          chars.push({ text: String.fromCharCode(c), complete: true });
          if (chars.length > 4) return UNKNOWN;
        }
      }
      return chars;
    }
    case 'seq': {
      let out: Start[] = [{ text: '', complete: true }];
      for (const item of n.items) {
        if (!out.some((s) => s.complete)) break;
        const next = startStrings(item);
        const joined = out.flatMap((s) => (s.complete ? next.map((x) => ({ text: s.text + x.text, complete: x.complete })) : [s]));
        if (joined.length > MAX_STARTS) return out.map((s) => ({ text: s.text, complete: false }));
        out = joined;
      }
      return out;
    }
    case 'alt': {
      const out = n.branches.flatMap(startStrings);
      return out.length > MAX_STARTS ? UNKNOWN : out;
    }
    case 'group':
      return startStrings(n.body);
    case 'quant':
      if (n.min === 0) return UNKNOWN;
      return n.min === 1 && n.max === 1 ? startStrings(n.body) : startStrings(n.body).map((s) => ({ text: s.text, complete: false }));
    case 'assert':
    case 'look':
      return [{ text: '', complete: true }]; // zero-width: what follows still starts the match
    default:
      return UNKNOWN; // back-references
  }
}

/** Characters every match of n contains, whatever path it takes. */
function requiredChars(n: RegexNode): number[] {
  switch (n.t) {
    case 'char':
      return n.set.length === 2 && n.set[0] === n.set[1] ? [n.set[0]!] : [];
    case 'seq': {
      const out: number[] = [];
      for (const item of n.items) for (const c of requiredChars(item)) if (!out.includes(c)) out.push(c);
      return out;
    }
    case 'alt': {
      const rest = n.branches.slice(1).map(requiredChars);
      return requiredChars(n.branches[0]!).filter((c) => rest.every((r) => r.includes(c)));
    }
    case 'group':
      return requiredChars(n.body);
    case 'quant':
      return n.min > 0 ? requiredChars(n.body) : [];
    default:
      return []; // lookaround, assertions, back-references consume nothing of their own
  }
}

function isWordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

/**
 * Working memory shared by every BoundedRegex: a match never starts another pattern's match, so
 * one stack and one set of bit sets serve them all (no per-pattern allocation). `visited` and
 * `good` are valid for the match in progress only; `resolve` for one marker resolution.
 */
const scratch: { stack: Int32Array; visited: Uint32Array; good: Uint32Array; resolve: Uint32Array } = {
  stack: new Int32Array(1024),
  visited: new Uint32Array(1024),
  good: new Uint32Array(1024),
  resolve: new Uint32Array(0),
};

function clearBits(bits: Uint32Array, from: number, to: number): void {
  while (from < to && (from & 31) !== 0) {
    bits[from >>> 5]! &= ~(1 << (from & 31));
    from++;
  }
  while (from + 32 <= to) {
    bits[from >>> 5] = 0;
    from += 32;
  }
  while (from < to) {
    bits[from >>> 5]! &= ~(1 << (from & 31));
    from++;
  }
}

/**
 * A user regular expression compiled for bounded matching. Same answers as JavaScript's
 * `RegExp` (no flags) on the supported subset; `exec`/`test` take at most
 * `stepBound(input.length)` steps, or throw `BoundedRegexError` ('regex-budget') for patterns with
 * back-references. Instances are shared (compiled patterns are cached) and keep the last match
 * for `group`; an in-memory value, never serialized (`toJSON` gives only the source).
 */
export class BoundedRegex {
  /** Instructions of the program, lookaround sub-programs included (≤ MAX_PROGRAM_SIZE). */
  readonly programSize: number;
  readonly captureCount: number;
  /** Back-references: plain backtracking with BACKREF_STEP_BUDGET instead of remembered states. */
  readonly budgeted: boolean;

  private readonly code: Int32Array;
  /** 1 where an (instruction, position) pair may be reached twice and must be remembered. */
  private readonly marked: Uint8Array;
  private readonly ascii: Uint32Array;
  private readonly wide: (Int32Array | null)[];
  private readonly looks: readonly Look[];
  private readonly entry: number;
  /** ASCII characters a match can start with (null: any, or the empty string). */
  private readonly first: Uint32Array | null;
  private readonly firstWide: boolean;
  private readonly lookCaptures: boolean;
  private readonly names: readonly [string, number][];
  /** Characters every match contains (at most two, the least common kinds first). */
  private readonly required: readonly string[];
  /** Anchored: every match starts with one of these (null: no such short list). */
  private readonly starts: readonly string[] | null;

  // scratch, reused by every call
  private input = '';
  private n = 0;
  private width = 1;
  private sp = 0;
  private steps = 0;
  private matchPos = 0;
  private readonly slots: Int32Array;

  /** Use {@link compileBoundedRegex}. */
  constructor(
    readonly parsed: ParsedRegex,
    readonly anchored: boolean,
  ) {
    if (estimate(parsed.root) === Infinity) throw new Compiler(parsed).tooLarge();
    const c = new Compiler(parsed);
    const main = c.builder();
    const match = main.emit(MATCH, 0, 0, 0);
    const entry = c.compile(parsed.root, () => match, 1, main)(0);

    // lay the programs out one after the other
    const offsets: number[] = [];
    let total = 0;
    for (const b of c.builders) {
      offsets.push(total);
      total += b.code.length >> 2;
    }
    const code = new Int32Array(total * 4);
    c.builders.forEach((b, i) => {
      const off = offsets[i]!;
      for (let j = 0; j < b.code.length; j += 4) {
        const at = off * 4 + j;
        const op = b.code[j]!;
        code[at] = op;
        code[at + 1] = op === SPLIT ? b.code[j + 1]! + off : b.code[j + 1]!;
        code[at + 2] = op === MATCH || op === FAIL ? 0 : b.code[j + 2]! + off;
        code[at + 3] = op === BACKREF || op === BACKREF_BACK ? b.code[j + 3]! + off : b.code[j + 3]!;
      }
    });
    this.code = code;
    this.programSize = total;
    this.entry = entry;
    this.captureCount = parsed.captureCount;
    this.budgeted = parsed.hasBackReference;
    this.names = [...parsed.groupNames];
    this.slots = new Int32Array(2 * (parsed.captureCount + 1)).fill(-1);
    this.looks = c.looks.map((d, i) => {
      const b = c.builders.indexOf(d.builder);
      return {
        entry: d.entry + offsets[b]!,
        negate: d.negate,
        pcStart: offsets[b]!,
        pcEnd: offsets[b]! + (d.builder.code.length >> 2),
        slotLo: d.slotLo,
        slotHi: d.slotHi,
        scratch: new Int32Array(d.slotHi - d.slotLo),
        index: i,
      };
    });
    this.lookCaptures = this.looks.some((l) => !l.negate && l.slotHi > l.slotLo);

    // character sets: an ASCII bitmap each, and the ranges above ASCII
    this.ascii = new Uint32Array(c.sets.length * 4);
    this.wide = c.sets.map((set, id) => {
      const wide: number[] = [];
      for (let i = 0; i < set.length; i += 2) {
        const lo = set[i]!;
        const hi = set[i + 1]!;
        for (let ch = lo; ch <= Math.min(hi, 127); ch++) this.ascii[id * 4 + (ch >>> 5)]! |= 1 << (ch & 31);
        if (hi >= 128) wide.push(Math.max(lo, 128), hi);
      }
      return wide.length ? Int32Array.from(wide) : null;
    });

    // a pair needs remembering only when its instruction can be reached in two ways
    const indegree = new Uint16Array(total);
    const bump = (pc: number) => {
      if (indegree[pc]! < 2) indegree[pc]!++;
    };
    for (let pc = 0; pc < total; pc++) {
      const op = code[pc * 4]!;
      if (op === MATCH || op === FAIL) continue;
      if (op === SPLIT) bump(code[pc * 4 + 1]!);
      bump(code[pc * 4 + 2]!);
      if (op === BACKREF || op === BACKREF_BACK) bump(code[pc * 4 + 3]!);
    }
    bump(entry);
    this.marked = new Uint8Array(total);
    for (let pc = 0; pc < total; pc++) this.marked[pc] = indegree[pc]! >= 2 ? 1 : 0;
    for (const l of this.looks) this.marked[l.entry] = 1;

    // what a match can start with: characters reachable from the entry without consuming
    const first = new Uint32Array(4);
    let firstWide = false;
    let any = false;
    const seen = new Set<number>();
    const todo = [entry];
    while (todo.length && !any) {
      const pc = todo.pop()!;
      if (seen.has(pc)) continue;
      seen.add(pc);
      const op = code[pc * 4]!;
      const a = code[pc * 4 + 1]!;
      const next = code[pc * 4 + 2]!;
      if (op === CHAR) {
        for (let w = 0; w < 4; w++) first[w]! |= this.ascii[a * 4 + w]!;
        if (this.wide[a]) firstWide = true;
      } else if (op === SPLIT) todo.push(a, next);
      else if (op === SAVE || op === RESET || op === ASSERT || op === LOOK) todo.push(next);
      else if (op !== FAIL) any = true; // MATCH (the empty string), back-references
    }
    this.first = any ? null : first;
    this.firstWide = firstWide;
    const rarity = (c: number) => (c >= 48 && c <= 57 ? 2 : isWordChar(c) ? 1 : 0);
    const starts = anchored ? startStrings(parsed.root) : null;
    this.starts = starts && starts.every((x) => x.text !== '') ? starts.map((x) => x.text) : null;
    this.required = requiredChars(parsed.root)
      .sort((a, b) => rarity(a) - rarity(b))
      .slice(0, 2)
      .map((c) => String.fromCharCode(c));
  }

  /** The pattern as written. */
  get source(): string {
    return this.parsed.source;
  }

  /**
   * Most steps `exec`/`test` take on an input of this length, without back-references: each
   * (instruction, position) pair once for the search and the lookarounds, plus one run of a
   * lookaround sub-program per capturing group inside a positive lookaround.
   */
  stepBound(length: number): number {
    return this.programSize * (length + 1) * (1 + (this.lookCaptures ? this.captureCount : 0));
  }

  /** The first match, as JavaScript's `exec` finds it; null when there is none. */
  exec(input: string, counter?: StepCounter): BoundedMatch | null {
    if (!this.search(input, counter, true)) return null;
    const slots = this.slots;
    const captures: (string | undefined)[] = [];
    for (let g = 0; g <= this.captureCount; g++) {
      const st = slots[2 * g]!;
      const en = slots[2 * g + 1]!;
      captures.push(st >= 0 && en >= 0 ? input.slice(st, en) : undefined);
    }
    const index = slots[0]!;
    if (this.names.length === 0) return { index, captures };
    const groups: Record<string, string | undefined> = {};
    for (const [name, g] of this.names) groups[name] = captures[g];
    return { index, captures, groups };
  }

  /**
   * `exec` without building the result, for hot loops: the end of the first match, or -1;
   * `group(n)` then gives the text of group n of that match. Valid until the next call on this
   * regex (compiled patterns are shared: read the groups at once).
   */
  matchEnd(input: string, counter?: StepCounter): number {
    return this.search(input, counter, true) ? this.slots[1]! : -1;
  }

  /** Group n (0: the whole match) of the last successful `matchEnd`; undefined when it took no part. */
  group(n: number): string | undefined {
    const st = this.slots[2 * n]!;
    const en = this.slots[2 * n + 1]!;
    return st >= 0 && en >= 0 ? this.input.slice(st, en) : undefined;
  }

  /** Whether the pattern matches somewhere in the input (at its start when anchored). */
  test(input: string, counter?: StepCounter): boolean {
    return this.search(input, counter, false);
  }

  toJSON(): { source: string; anchored: boolean } {
    return { source: this.source, anchored: this.anchored };
  }

  // ── running ──

  /** Cheap rejections before any set-up: how a match starts, characters every match contains. */
  private rejects(input: string): boolean {
    const first = this.first;
    if (first !== null && this.anchored) {
      if (input.length === 0) return true;
      const ch = input.charCodeAt(0);
      if (ch < 128 ? (first[ch >>> 5]! & (1 << (ch & 31))) === 0 : !this.firstWide) return true;
    }
    const starts = this.starts;
    if (starts !== null) {
      let i = 0;
      while (i < starts.length && !input.startsWith(starts[i]!)) i++;
      if (i === starts.length) return true;
    }
    const required = this.required;
    for (let i = 0; i < required.length; i++) if (input.indexOf(required[i]!) < 0) return true;
    return false;
  }

  private search(input: string, counter: StepCounter | undefined, wantCaptures: boolean): boolean {
    this.steps = 0;
    if (this.rejects(input)) return false;
    if (counter === undefined) return this.searchFrom(input, wantCaptures);
    try {
      return this.searchFrom(input, wantCaptures);
    } finally {
      counter.steps += this.steps;
    }
  }

  private searchFrom(input: string, wantCaptures: boolean): boolean {
    const n = input.length;
    const width = n + 1;
    const budgeted = this.budgeted;
    const bits = this.programSize * width;
    if (!budgeted && bits > MAX_VISITED_BITS) {
      throw new BoundedRegexError(
        'regex-input-too-long',
        this.source,
        `the regular expression ${quote(this.source)} cannot be matched against a text of ${n.toLocaleString('en-US')} characters: its ${this.programSize}-instruction program would need more than ${MAX_VISITED_BITS.toLocaleString('en-US')} bits of memory; shorten the text or simplify the pattern`,
      );
    }
    const first = this.first;
    this.input = input;
    this.n = n;
    this.width = width;
    this.sp = 0;
    if (!budgeted) {
      const words = (bits + 31) >>> 5;
      if (scratch.visited.length < words) {
        scratch.visited = new Uint32Array(Math.max(words, scratch.visited.length * 2));
        scratch.good = new Uint32Array(scratch.visited.length);
      } else {
        const visited = scratch.visited;
        for (let w = 0; w < words; w++) visited[w] = 0;
        if (this.looks.length > 0) scratch.good.fill(0, 0, words);
      }
    }
    const slots = this.slots;
    for (let i = 0; i < slots.length; i++) slots[i] = -1;
    const last = this.anchored ? 0 : n;
    for (let start = 0; start <= last; start++) {
      if (first !== null) {
        if (start === n) break;
        const ch = input.charCodeAt(start);
        if (ch < 128 ? (first[ch >>> 5]! & (1 << (ch & 31))) === 0 : !this.firstWide) continue;
      }
      slots[0] = start;
      if (this.run(this.entry, start, budgeted ? null : scratch.visited, slots)) {
        slots[1] = this.matchPos;
        this.sp = 0;
        if (wantCaptures && this.lookCaptures && !budgeted) this.resolveMarkers(slots, new Map());
        return true;
      }
    }
    return false;
  }

  private grow(needed: number): Int32Array {
    let size = scratch.stack.length * 2;
    while (size < needed) size *= 2;
    const bigger = new Int32Array(size);
    bigger.set(scratch.stack);
    scratch.stack = bigger;
    return bigger;
  }

  private hasChar(set: number, c: number): boolean {
    if (c < 128) return (this.ascii[(set << 2) | (c >>> 5)]! & (1 << (c & 31))) !== 0;
    const w = this.wide[set];
    if (w === null || w === undefined) return false;
    for (let i = 0; i < w.length; i += 2) {
      if (c < w[i]!) return false;
      if (c <= w[i + 1]!) return true;
    }
    return false;
  }

  private assertion(kind: number, pos: number): boolean {
    const n = this.n;
    if (kind === A_START) return pos === 0;
    if (kind === A_END) return pos === n;
    const before = pos > 0 && isWordChar(this.input.charCodeAt(pos - 1));
    const after = pos < n && isWordChar(this.input.charCodeAt(pos));
    return (before !== after) === (kind === A_WORD);
  }

  private budgetError(): BoundedRegexError {
    return new BoundedRegexError(
      'regex-budget',
      this.source,
      `the regular expression ${quote(this.source)} gave up after ${BACKREF_STEP_BUDGET.toLocaleString('en-US')} steps on ${quote(this.input)}: a pattern with back-references (\\1, \\k<name>) has no speed guarantee; remove the back-reference, or the repetitions around it`,
    );
  }

  /**
   * Depth-first search from (pc0, pos0), captures written to `slots`. With `bits`, pairs of
   * marked instructions are remembered there (no back-references); without, every step counts
   * against the budget. True on MATCH: `matchPos` is the end, the jobs above the starting stack
   * pointer are left for the caller to unwind or drop.
   */
  private run(pc0: number, pos0: number, bits: Uint32Array | null, slots: Int32Array): boolean {
    const code = this.code;
    const marked = this.marked;
    const ascii = this.ascii;
    const s = this.input;
    const n = this.n;
    const width = this.width;
    const budget = bits === null ? BACKREF_STEP_BUDGET : Infinity;
    const base = this.sp;
    let stack = scratch.stack;
    let sp = base;
    let steps = this.steps;
    if (sp + 2 > stack.length) stack = this.grow(sp + 2);
    stack[sp++] = pc0;
    stack[sp++] = pos0;
    while (sp > base) {
      let pos = stack[--sp]!;
      let pc = stack[--sp]!;
      if (pc < 0) {
        slots[~pc] = pos; // undo a capture
        continue;
      }
      thread: for (;;) {
        if (bits !== null && marked[pc] === 1) {
          const bit = pc * width + pos;
          const mask = 1 << (bit & 31);
          if ((bits[bit >>> 5]! & mask) !== 0) break;
          bits[bit >>> 5]! |= mask;
        }
        if (++steps > budget) {
          this.steps = steps;
          throw this.budgetError();
        }
        const i = pc << 2;
        switch (code[i]) {
          case CHAR: {
            if (pos >= n) break thread;
            const ch = s.charCodeAt(pos);
            if (ch < 128 ? (ascii[(code[i + 1]! << 2) | (ch >>> 5)]! & (1 << (ch & 31))) === 0 : !this.hasChar(code[i + 1]!, ch)) break thread;
            pos++;
            pc = code[i + 2]!;
            continue;
          }
          case CHAR_BACK: {
            if (pos <= 0 || !this.hasChar(code[i + 1]!, s.charCodeAt(pos - 1))) break thread;
            pos--;
            pc = code[i + 2]!;
            continue;
          }
          case SPLIT:
            if (sp + 2 > stack.length) stack = this.grow(sp + 2);
            stack[sp++] = code[i + 2]!;
            stack[sp++] = pos;
            pc = code[i + 1]!;
            continue;
          case SAVE: {
            const slot = code[i + 1]!;
            if (sp + 2 > stack.length) stack = this.grow(sp + 2);
            stack[sp++] = ~slot;
            stack[sp++] = slots[slot]!;
            slots[slot] = pos;
            pc = code[i + 2]!;
            continue;
          }
          case RESET: {
            const hi = code[i + 3]!;
            for (let slot = code[i + 1]!; slot < hi; slot++) {
              if (slots[slot] === -1) continue;
              if (sp + 2 > stack.length) stack = this.grow(sp + 2);
              stack[sp++] = ~slot;
              stack[sp++] = slots[slot]!;
              slots[slot] = -1;
            }
            pc = code[i + 2]!;
            continue;
          }
          case ASSERT:
            if (!this.assertion(code[i + 1]!, pos)) break thread;
            pc = code[i + 2]!;
            continue;
          case LOOK: {
            const look = this.looks[code[i + 1]!]!;
            this.sp = sp;
            this.steps = steps;
            const ok = bits === null ? this.lookBudgeted(look, pos, slots) : this.lookMemo(look, pos);
            stack = scratch.stack;
            steps = this.steps;
            if (ok === look.negate) break thread;
            if (!look.negate && look.slotHi > look.slotLo) {
              // captures of a positive lookaround: their values (budgeted), else a marker
              // (lookaround, position) worked out for the winning match only
              const marker = -2 - (look.index + this.looks.length * pos);
              if (sp + 2 * (look.slotHi - look.slotLo) > stack.length) stack = this.grow(sp + 2 * (look.slotHi - look.slotLo));
              for (let slot = look.slotLo; slot < look.slotHi; slot++) {
                stack[sp++] = ~slot;
                stack[sp++] = slots[slot]!;
                slots[slot] = bits === null ? look.scratch[slot - look.slotLo]! : marker;
              }
            }
            pc = code[i + 2]!;
            continue;
          }
          case BACKREF:
          case BACKREF_BACK: {
            const g = code[i + 1]!;
            const st = slots[2 * g]!;
            const en = slots[2 * g + 1]!;
            const len = en - st;
            if (st < 0 || en < 0 || len === 0) {
              pc = code[i + 2]!;
              continue;
            }
            if (code[i] === BACKREF) {
              if (pos + len > n) break thread;
              for (let j = 0; j < len; j++) if (s.charCodeAt(st + j) !== s.charCodeAt(pos + j)) break thread;
              pos += len;
            } else {
              if (pos - len < 0) break thread;
              for (let j = 0; j < len; j++) if (s.charCodeAt(st + j) !== s.charCodeAt(pos - len + j)) break thread;
              pos -= len;
            }
            pc = code[i + 3]!;
            continue;
          }
          case MATCH:
            this.matchPos = pos;
            this.sp = sp;
            this.steps = steps;
            return true;
          default: // FAIL
            break thread;
        }
      }
    }
    this.sp = base;
    this.steps = steps;
    return false;
  }

  /** Pops the jobs above `base`, undoing the captures they record. */
  private unwind(base: number, slots: Int32Array): void {
    const stack = scratch.stack;
    for (let sp = this.sp; sp > base; sp -= 2) {
      const pc = stack[sp - 2]!;
      if (pc < 0) slots[~pc] = stack[sp - 1]!;
    }
    this.sp = base;
  }

  /** A lookaround in a budgeted program: run in full; on success its captures are in `scratch`. */
  private lookBudgeted(look: Look, pos: number, slots: Int32Array): boolean {
    const base = this.sp;
    if (!this.run(look.entry, pos, null, slots)) return false;
    for (let slot = look.slotLo; slot < look.slotHi; slot++) look.scratch[slot - look.slotLo] = slots[slot]!;
    this.unwind(base, slots);
    return true;
  }

  /**
   * Whether a lookaround body matches at pos, remembered per position. `visited` marks pairs
   * explored, `good` those known to lead to a match; a pair visited and not good failed. Each
   * explored pair leaves a FINISH job (~pc, pos); those still on the stack at a match are the
   * successful path and become good.
   */
  private lookMemo(look: Look, pos0: number): boolean {
    const width = this.width;
    const visited = scratch.visited;
    const good = scratch.good;
    const entryBit = look.entry * width + pos0;
    if ((good[entryBit >>> 5]! & (1 << (entryBit & 31))) !== 0) return true;
    if ((visited[entryBit >>> 5]! & (1 << (entryBit & 31))) !== 0) return false;
    const code = this.code;
    const marked = this.marked;
    const s = this.input;
    const n = this.n;
    const base = this.sp;
    let stack = scratch.stack;
    let sp = base;
    let steps = this.steps;
    let found = false;
    if (sp + 2 > stack.length) stack = this.grow(sp + 2);
    stack[sp++] = look.entry;
    stack[sp++] = pos0;
    search: while (sp > base) {
      let pos = stack[--sp]!;
      let pc = stack[--sp]!;
      if (pc < 0) continue; // FINISH: everything after this pair failed, and so did it
      thread: for (;;) {
        if (marked[pc] === 1) {
          const bit = pc * width + pos;
          const mask = 1 << (bit & 31);
          if ((good[bit >>> 5]! & mask) !== 0) {
            found = true;
            break search;
          }
          if ((visited[bit >>> 5]! & mask) !== 0) break;
          visited[bit >>> 5]! |= mask;
          if (sp + 2 > stack.length) stack = this.grow(sp + 2);
          stack[sp++] = ~pc;
          stack[sp++] = pos;
        }
        steps++;
        const i = pc << 2;
        switch (code[i]) {
          case CHAR:
            if (pos >= n || !this.hasChar(code[i + 1]!, s.charCodeAt(pos))) break thread;
            pos++;
            pc = code[i + 2]!;
            continue;
          case CHAR_BACK:
            if (pos <= 0 || !this.hasChar(code[i + 1]!, s.charCodeAt(pos - 1))) break thread;
            pos--;
            pc = code[i + 2]!;
            continue;
          case SPLIT:
            if (sp + 2 > stack.length) stack = this.grow(sp + 2);
            stack[sp++] = code[i + 2]!;
            stack[sp++] = pos;
            pc = code[i + 1]!;
            continue;
          case SAVE:
          case RESET:
            pc = code[i + 2]!; // captures do not change whether it matches
            continue;
          case ASSERT:
            if (!this.assertion(code[i + 1]!, pos)) break thread;
            pc = code[i + 2]!;
            continue;
          case LOOK: {
            const inner = this.looks[code[i + 1]!]!;
            this.sp = sp;
            this.steps = steps;
            const ok = this.lookMemo(inner, pos);
            stack = scratch.stack;
            steps = this.steps;
            if (ok === inner.negate) break thread;
            pc = code[i + 2]!;
            continue;
          }
          case MATCH:
            found = true;
            break search;
          default: // FAIL (no back-references here)
            break thread;
        }
      }
    }
    if (found) {
      for (; sp > base; sp -= 2) {
        const pc = stack[sp - 2]!;
        if (pc < 0) {
          const bit = ~pc * width + stack[sp - 1]!;
          good[bit >>> 5]! |= 1 << (bit & 31);
        }
      }
    }
    this.sp = base;
    this.steps = steps;
    return found;
  }

  /**
   * Replaces the markers left by positive lookarounds with the captures of the lookaround's
   * first successful path at that position (a fresh run of its sub-program, once per marker).
   */
  private resolveMarkers(slots: Int32Array, done: Map<number, Int32Array>): void {
    const looks = this.looks;
    for (let slot = 2; slot < slots.length; slot++) {
      const marker = slots[slot]!;
      if (marker > -2) continue;
      const v = -2 - marker;
      const look = looks[v % looks.length]!;
      const pos = (v - (v % looks.length)) / looks.length;
      let values = done.get(marker);
      if (!values) {
        const width = this.width;
        if (scratch.resolve.length < scratch.visited.length) scratch.resolve = new Uint32Array(scratch.visited.length);
        clearBits(scratch.resolve, look.pcStart * width, look.pcEnd * width);
        const inner = new Int32Array(slots.length).fill(-1);
        this.sp = 0;
        this.run(look.entry, pos, scratch.resolve, inner);
        this.sp = 0;
        this.resolveMarkers(inner, done);
        values = inner;
        done.set(marker, values);
      }
      slots[slot] = values[slot]!;
    }
  }
}

/**
 * V8's syntax errors, said for an administrator: what is wrong and how to write it instead.
 * The key is V8's reason (after `Invalid regular expression: /…/: `); an unknown reason is kept.
 */
const SYNTAX_FIXES: ReadonlyMap<string, string> = new Map([
  ['Unterminated group', "a '(' is never closed: add the ')', or write \\( for a literal parenthesis"],
  ["Unmatched ')'", "a ')' closes no group: remove it, or write \\) for a literal parenthesis"],
  ['Unterminated character class', "a '[' is never closed: add the ']', or write \\[ for a literal bracket"],
  ['Nothing to repeat', 'a quantifier (* + ? {n}) follows nothing it can repeat: put it after a character or group, or escape it (\\* \\+ \\?)'],
  ['Lone quantifier brackets', "a '{' or '}' stands alone: escape it as \\{ or \\}"],
  ['numbers out of order in {} quantifier', 'in {n,m} the first number is larger than the second: write the smaller first'],
  ['Range out of order in character class', 'a range in [...] goes backwards, like [9-0]: write it from low to high, [0-9]'],
  ['Invalid group', 'after (? comes something that is not ?: ?= ?! ?<= ?<! or ?<name>: escape the ( as \\( or fix the group'],
  ['\\ at end of pattern', 'the pattern ends with a lone backslash: write \\\\ to match a backslash'],
  ['Duplicate capture group name', 'two groups have the same name: rename one'],
  ['Invalid named capture referenced', '\\k<name> names no group: fix the name'],
  ['Invalid capture group name', 'a group name must start with a letter: (?<area>…)'],
  ['Invalid escape', 'a backslash is followed by a character it cannot escape here: remove the backslash'],
  ['Invalid quantifier', 'a quantifier (* + ? {n}) follows something that cannot be repeated, such as a lookaround: remove it'],
]);

function jsSyntaxError(source: string): string | undefined {
  try {
    new RegExp(source); // parses only: nothing is matched
    return undefined;
  } catch (e) {
    const message = (e as Error).message;
    const m = /^Invalid regular expression: \/.*\/[a-z]*: (.*)$/s.exec(message);
    const reason = m ? m[1]! : message;
    const fix = SYNTAX_FIXES.get(reason);
    return `not a valid regular expression: ${fix ?? reason.charAt(0).toLowerCase() + reason.slice(1)}`;
  }
}

/**
 * Compiles a user pattern of the supported .NET/JavaScript subset (docs/dialplan.md, "Regular
 * expressions") for bounded matching. Throws {@link BoundedRegexError}: 'regex-invalid'
 * (JavaScript's reason, or what to write instead for the usual mistakes), 'regex-unsupported' (which construct and what to write instead) or
 * 'regex-too-large'. The result's `exec`/`test` may throw 'regex-budget' (patterns with
 * back-references only) and 'regex-input-too-long'.
 */
export function compileBoundedRegex(source: string, options: BoundedRegexOptions = {}): BoundedRegex {
  const anchored = options.anchored === true;
  const key = (anchored ? '^' : '*') + source;
  const cached = compiledCache.get(key);
  if (cached) {
    // most recently used last
    compiledCache.delete(key);
    compiledCache.set(key, cached);
    return cached;
  }
  const compiled = compileUncached(source, anchored);
  compiledCache.set(key, compiled);
  if (compiledCache.size > COMPILED_CACHE_SIZE) compiledCache.delete(compiledCache.keys().next().value!);
  return compiled;
}

/**
 * Compiled patterns by source, as V8 keeps compiled RegExps: the dial plan of a domain is
 * compiled again for every `GET /v1/lookup`, `plan` and `validate`. A BoundedRegex shows no state
 * between calls, so one instance can serve every rule that uses the pattern.
 */
const COMPILED_CACHE_SIZE = 256;
const compiledCache = new Map<string, BoundedRegex>();

function compileUncached(source: string, anchored: boolean): BoundedRegex {
  let parsed: ParsedRegex;
  try {
    parsed = parseRegex(source);
  } catch (e) {
    if (!(e instanceof RegexSubsetError)) throw e;
    // a syntax error: JavaScript's own message is the familiar one, when it has one
    const js = e.kind === 'syntax' ? jsSyntaxError(source) : undefined;
    if (js !== undefined) throw new BoundedRegexError('regex-invalid', source, js, { cause: e });
    throw new BoundedRegexError('regex-unsupported', source, e.message, { cause: e });
  }
  const js = jsSyntaxError(source);
  if (js !== undefined) throw new BoundedRegexError('regex-invalid', source, js);
  return new BoundedRegex(parsed, anchored);
}
