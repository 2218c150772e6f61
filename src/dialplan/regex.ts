/**
 * The regular-expression subset shared by .NET (what the manual's rules are written for) and
 * JavaScript (whose semantics the matcher reproduces), and the static facts the dial plan needs.
 *
 * Design note. A small recursive-descent parser reads the pattern into a tree. It refuses,
 * with a message saying why, every construct that JavaScript lacks or reads differently
 * (atomic groups, inline options, \A \Z \z \G, balancing groups, class subtraction, octal
 * escapes, \p{…}, `[]…]`, …), and groups nested more than MAX_NESTING deep. Character sets are
 * exact (sorted UTF-16 code-unit ranges, as JavaScript reads a pattern without the `u` flag), so
 * the tree is a complete description of what the pattern matches: matcher.ts compiles it into a
 * bounded program and never hands a user pattern to JavaScript's backtracking engine.
 * Two analyses serve unreachable-rule detection:
 *   - literalPrefix: a string every match starts with.
 *   - assertionFree: no lookaround, `$`, `\b`, `\B`. For such a regex, a match found in a
 *     string s is also found in every string that starts with s (the matching path reads only
 *     the characters it consumed), which is what makes unreachable-rule reports certain.
 */

/** Why a pattern was refused by the parser. */
export class RegexSubsetError extends Error {
  constructor(
    readonly kind: 'unsupported' | 'syntax',
    message: string,
  ) {
    super(message);
    this.name = 'RegexSubsetError';
  }
}

// ── character sets: sorted, disjoint, inclusive UTF-16 code-unit ranges [lo0, hi0, lo1, hi1, …] ──

/** A set of UTF-16 code units as sorted, disjoint, inclusive ranges: `[lo0, hi0, lo1, hi1, …]`. */
export type CharSet = readonly number[];

const MAX_CODE_UNIT = 0xffff;

function normalize(ranges: number[]): number[] {
  const pairs: [number, number][] = [];
  for (let i = 0; i < ranges.length; i += 2) pairs.push([ranges[i]!, ranges[i + 1]!]);
  pairs.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [lo, hi] of pairs) {
    const last = out.length - 1;
    if (last > 0 && lo <= out[last]! + 1) out[last] = Math.max(out[last]!, hi);
    else out.push(lo, hi);
  }
  return out;
}
function complement(s: CharSet): CharSet {
  const out: number[] = [];
  let next = 0;
  for (let i = 0; i < s.length; i += 2) {
    if (s[i]! > next) out.push(next, s[i]! - 1);
    next = s[i + 1]! + 1;
  }
  if (next <= MAX_CODE_UNIT) out.push(next, MAX_CODE_UNIT);
  return out;
}
function singleChar(s: CharSet): string | undefined {
  return s.length === 2 && s[0] === s[1] ? String.fromCharCode(s[0]!) : undefined;
}
function charSet(code: number): CharSet {
  return [code, code];
}

const DIGIT: CharSet = [48, 57];
const WORD: CharSet = [48, 57, 65, 90, 95, 95, 97, 122];
/** JavaScript's \s: WhiteSpace and LineTerminator code points of the BMP. */
const SPACE: CharSet = normalize([9, 13, 32, 32, 0xa0, 0xa0, 0x1680, 0x1680, 0x2000, 0x200a, 0x2028, 0x2029, 0x202f, 0x202f, 0x205f, 0x205f, 0x3000, 0x3000, 0xfeff, 0xfeff]);
/** JavaScript's `.` without the `s` flag: anything but a line terminator. */
const DOT: CharSet = complement(normalize([10, 10, 13, 13, 0x2028, 0x2029]));

// ── the tree ──

interface Span {
  readonly start: number;
  readonly end: number;
}
/**
 * A node of a parsed pattern; `start`/`end` locate it in the source for messages. Capturing
 * groups carry their number (1-based, in order of their opening parenthesis, as in JavaScript);
 * a back-reference carries the number or the name of the group it repeats.
 */
export type RegexNode =
  | (Span & { readonly t: 'char'; readonly set: CharSet })
  | (Span & { readonly t: 'seq'; readonly items: readonly RegexNode[] })
  | (Span & { readonly t: 'alt'; readonly branches: readonly RegexNode[] })
  | (Span & { readonly t: 'group'; readonly body: RegexNode; readonly capture: boolean; readonly index?: number; readonly name?: string })
  | (Span & { readonly t: 'look'; readonly body: RegexNode; readonly behind: boolean; readonly negate: boolean })
  | (Span & { readonly t: 'assert'; readonly kind: '^' | '$' | '\\b' | '\\B' })
  | (Span & { readonly t: 'backref'; readonly group?: number; readonly name?: string })
  | (Span & { readonly t: 'quant'; readonly body: RegexNode; readonly min: number; readonly max: number; readonly lazy: boolean });

/** What the parser learnt about a pattern. */
export interface ParsedRegex {
  readonly root: RegexNode;
  readonly source: string;
  /** Number of capturing groups (named ones included). */
  readonly captureCount: number;
  readonly namedCount: number;
  readonly unnamedCount: number;
  /** Name → number of the named groups. */
  readonly groupNames: ReadonlyMap<string, number>;
  /** Some back-reference (`\1`, `\k<name>`) appears. */
  readonly hasBackReference: boolean;
}

/** Deepest nesting of groups accepted: deeper patterns are refused instead of overflowing the stack. */
export const MAX_NESTING = 100;

const unsupported = (m: string) => new RegexSubsetError('unsupported', m);
const syntax = (m: string) => new RegexSubsetError('syntax', m);

class Parser {
  private i = 0;
  private captures = 0;
  private named = 0;
  private depth = 0;
  private readonly names = new Map<string, number>();
  private readonly backrefs: { n: number; at: number }[] = [];
  private readonly namedBackrefs: { name: string; at: number }[] = [];

  constructor(private readonly src: string) {}

  parse(): ParsedRegex {
    const root = this.alternation();
    if (this.i < this.src.length) throw syntax(`unmatched ")" at position ${this.i + 1}`);
    for (const b of this.backrefs) {
      if (b.n > this.captures) {
        throw unsupported(
          `\\${b.n} refers to group ${b.n}, which does not exist; JavaScript would read it as an octal escape, .NET as an error`,
        );
      }
    }
    for (const b of this.namedBackrefs) {
      if (!this.names.has(b.name)) throw syntax(`\\k<${b.name}> refers to a group that does not exist`);
    }
    return {
      root,
      source: this.src,
      captureCount: this.captures,
      namedCount: this.named,
      unnamedCount: this.captures - this.named,
      groupNames: this.names,
      hasBackReference: this.backrefs.length + this.namedBackrefs.length > 0,
    };
  }

  private peek(offset = 0): string | undefined {
    return this.src[this.i + offset];
  }

  private alternation(): RegexNode {
    const start = this.i;
    const branches = [this.sequence()];
    while (this.peek() === '|') {
      this.i++;
      branches.push(this.sequence());
    }
    return branches.length === 1 ? branches[0]! : { t: 'alt', branches, start, end: this.i };
  }

  private sequence(): RegexNode {
    const start = this.i;
    const items: RegexNode[] = [];
    while (this.i < this.src.length && this.peek() !== '|' && this.peek() !== ')') {
      items.push(this.quantified(this.atom()));
    }
    return { t: 'seq', items, start, end: this.i };
  }

  /** Reads `{n}`, `{n,}`, `{n,m}` at the cursor without consuming; null when it is a literal `{`. */
  private braces(): { min: number; max: number; length: number } | null {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.i));
    if (!m) return null;
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
    return { min, max, length: m[0].length };
  }

  private quantifierAhead(): boolean {
    const c = this.peek();
    return c === '*' || c === '+' || c === '?' || (c === '{' && this.braces() !== null);
  }

  private quantified(atom: RegexNode): RegexNode {
    const c = this.peek();
    let min: number;
    let max: number;
    if (c === '*') [min, max] = [0, Infinity];
    else if (c === '+') [min, max] = [1, Infinity];
    else if (c === '?') [min, max] = [0, 1];
    else if (c === '{') {
      const b = this.braces();
      if (!b) return atom;
      if (b.min > b.max) throw syntax(`quantifier {${b.min},${b.max}} has its numbers out of order`);
      [min, max] = [b.min, b.max];
      this.i += b.length - 1;
    } else return atom;
    this.i++;
    if (atom.t === 'assert') throw syntax(`nothing to repeat before "${c}" at position ${this.i}`);
    let lazy = false;
    if (this.peek() === '?') {
      this.i++;
      lazy = true;
    } else if (this.peek() === '+') {
      throw unsupported(`possessive quantifier "${this.src.slice(atom.end, this.i + 1)}" is not supported (neither .NET nor JavaScript has it)`);
    }
    if (this.quantifierAhead()) throw syntax(`nested quantifier at position ${this.i + 1}`);
    return { t: 'quant', body: atom, min, max, lazy, start: atom.start, end: this.i };
  }

  private atom(): RegexNode {
    const start = this.i;
    const c = this.src[this.i++]!;
    switch (c) {
      case '(':
        return this.group(start);
      case '[':
        return this.charClass(start);
      case '.':
        return { t: 'char', set: DOT, start, end: this.i };
      case '^':
      case '$':
        return { t: 'assert', kind: c, start, end: this.i };
      case '\\':
        return this.escape(start);
      case '*':
      case '+':
      case '?':
        throw syntax(`nothing to repeat before "${c}" at position ${start + 1}`);
      case '{': {
        this.i--;
        if (this.braces()) throw syntax(`nothing to repeat before "{" at position ${start + 1}`);
        this.i++;
        return { t: 'char', set: charSet(123), start, end: this.i };
      }
      default:
        return { t: 'char', set: charSet(c.charCodeAt(0)), start, end: this.i };
    }
  }

  private group(start: number): RegexNode {
    if (++this.depth > MAX_NESTING) {
      throw unsupported(`groups are nested more than ${MAX_NESTING} deep at position ${start + 1}; flatten the pattern`);
    }
    let kind: 'capture' | 'plain' | 'look' = 'capture';
    let name: string | undefined;
    let behind = false;
    let negate = false;
    if (this.peek() === '?') {
      this.i++;
      const c = this.src[this.i++];
      if (c === ':') kind = 'plain';
      else if (c === '=' || c === '!') {
        kind = 'look';
        negate = c === '!';
      } else if (c === '<' && (this.peek() === '=' || this.peek() === '!')) {
        negate = this.peek() === '!';
        this.i++;
        kind = 'look';
        behind = true;
      } else if (c === '<') {
        const close = this.src.indexOf('>', this.i);
        if (close < 0) throw syntax('named group "(?<" is missing its ">"');
        name = this.src.slice(this.i, close);
        this.i = close + 1;
        if (name.includes('-')) {
          throw unsupported(`balancing group "(?<${name}>" is .NET-only; JavaScript has no equivalent`);
        }
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
          throw unsupported(`group name "${name}" is not supported: use a letter followed by letters, digits or _ (JavaScript rules)`);
        }
        if (this.names.has(name)) {
          throw unsupported(`group name "${name}" is used twice: .NET merges such groups, JavaScript refuses them`);
        }
        this.names.set(name, this.captures + 1);
        this.named++;
      } else if (c === "'") {
        throw unsupported(`"(?'name'…)" groups are .NET-only; write "(?<name>…)"`);
      } else if (c === '>') {
        throw unsupported('atomic groups "(?>…)" are .NET-only; JavaScript has no equivalent');
      } else if (c === '(') {
        throw unsupported('conditional groups "(?(…)…)" are .NET-only; JavaScript has no equivalent');
      } else if (c === '#') {
        throw unsupported('inline comments "(?#…)" are .NET-only; remove the comment');
      } else if (c !== undefined && /[imnsx-]/.test(c)) {
        throw unsupported('inline options such as "(?i)" or "(?x:…)" are .NET-only; remove them (rules are matched against digits, so case does not matter)');
      } else {
        throw syntax(`unknown group construct "(?${c ?? ''}" at position ${start + 1}`);
      }
    }
    const index = kind === 'capture' ? ++this.captures : undefined;
    const body = this.alternation();
    if (this.peek() !== ')') throw syntax(`group opened at position ${start + 1} is missing its ")"`);
    this.i++;
    this.depth--;
    if (kind === 'look') return { t: 'look', body, behind, negate, start, end: this.i };
    return { t: 'group', body, capture: index !== undefined, ...(index !== undefined ? { index } : {}), ...(name !== undefined ? { name } : {}), start, end: this.i };
  }

  /** After a backslash. Returns a char set, an assertion or a back-reference. */
  private escape(start: number, inClass = false): RegexNode {
    const c = this.src[this.i++];
    const node = (set: CharSet): RegexNode => ({ t: 'char', set, start, end: this.i });
    if (c === undefined) throw syntax('the pattern ends with a lone "\\"');
    switch (c) {
      case 'd':
        return node(DIGIT);
      case 'D':
        return node(complement(DIGIT));
      case 'w':
        return node(WORD);
      case 'W':
        return node(complement(WORD));
      case 's':
        return node(SPACE);
      case 'S':
        return node(complement(SPACE));
      case 'b':
        return inClass ? node(charSet(8)) : { t: 'assert', kind: '\\b', start, end: this.i };
      case 'B':
        if (inClass) throw unsupported('"\\B" inside [...] is not supported');
        return { t: 'assert', kind: '\\B', start, end: this.i };
      case 'A':
      case 'Z':
      case 'z':
      case 'G':
        throw unsupported(`"\\${c}" is a .NET anchor that JavaScript does not have; patterns are already anchored at the start of the number, use "$" for its end`);
      case 'p':
      case 'P':
        throw unsupported(`Unicode categories "\\${c}{…}" mean something else in JavaScript here; list the characters instead, e.g. [0-9]`);
      case 'k': {
        if (!inClass && this.peek() === '<') {
          const close = this.src.indexOf('>', this.i);
          if (close < 0) throw syntax('"\\k<" is missing its ">"');
          const name = this.src.slice(this.i + 1, close);
          this.i = close + 1;
          this.namedBackrefs.push({ name, at: start });
          return { t: 'backref', name, start, end: this.i };
        }
        throw unsupported(`"\\k" must be followed by <name>; .NET's \\k'name' form is not supported`);
      }
      case '0':
        if (/[0-9]/.test(this.peek() ?? '')) {
          throw unsupported('octal escapes such as "\\012" are read differently by .NET and JavaScript; use "\\x0A"');
        }
        return node(charSet(0));
      case 't':
        return node(charSet(9));
      case 'n':
        return node(charSet(10));
      case 'v':
        return node(charSet(11));
      case 'f':
        return node(charSet(12));
      case 'r':
        return node(charSet(13));
      case 'e':
      case 'a':
        throw unsupported(`"\\${c}" is a .NET control-character escape; JavaScript reads it as the letter ${c}`);
      case 'x': {
        const m = /^[0-9A-Fa-f]{2}/.exec(this.src.slice(this.i));
        if (!m) throw unsupported('"\\x" must be followed by exactly two hexadecimal digits');
        this.i += 2;
        return node(charSet(parseInt(m[0], 16)));
      }
      case 'u': {
        const m = /^[0-9A-Fa-f]{4}/.exec(this.src.slice(this.i));
        if (!m) throw unsupported('"\\u" must be followed by exactly four hexadecimal digits');
        this.i += 4;
        return node(charSet(parseInt(m[0], 16)));
      }
      case 'c': {
        const l = this.peek();
        if (!l || !/[A-Za-z]/.test(l)) throw unsupported('"\\c" must be followed by a letter');
        this.i++;
        return node(charSet(l.charCodeAt(0) % 32));
      }
      default:
        if (c >= '1' && c <= '9') {
          if (inClass) throw unsupported(`"\\${c}" inside [...] is an octal escape in JavaScript; use "\\x" escapes`);
          let digits = c;
          while (/[0-9]/.test(this.peek() ?? '')) digits += this.src[this.i++];
          this.backrefs.push({ n: Number(digits), at: start });
          return { t: 'backref', group: Number(digits), start, end: this.i };
        }
        if (/[A-Za-z]/.test(c)) throw unsupported(`"\\${c}" is not a recognised escape`);
        return node(charSet(c.charCodeAt(0)));
    }
  }

  private charClass(start: number): RegexNode {
    let negate = false;
    if (this.peek() === '^') {
      negate = true;
      this.i++;
    }
    if (this.peek() === ']') {
      throw unsupported(
        negate
          ? '"[^]" means "any character" in JavaScript but starts a class containing "]" in .NET; write "." or "[^\\]…]"'
          : '"[]" is an empty class in JavaScript but starts a class containing "]" in .NET; escape it as "\\]"',
      );
    }
    const ranges: number[] = [];
    for (;;) {
      if (this.i >= this.src.length) throw syntax(`character class opened at position ${start + 1} is missing its "]"`);
      const c = this.src[this.i]!;
      if (c === ']') {
        this.i++;
        break;
      }
      if (c === '-' && this.peek(1) === '[') {
        throw unsupported('character class subtraction "[a-z-[aeiou]]" is .NET-only');
      }
      const lo = this.classAtom();
      if (this.peek() === '-' && this.peek(1) !== ']' && this.peek(1) !== undefined) {
        if (this.peek(1) === '[') throw unsupported('character class subtraction "[a-z-[aeiou]]" is .NET-only');
        this.i++;
        const hi = this.classAtom();
        if (typeof lo !== 'number' || typeof hi !== 'number') {
          throw unsupported('a range in [...] must go between two single characters, not a class such as \\d');
        }
        if (lo > hi) throw syntax(`range out of order in character class at position ${this.i}`);
        ranges.push(lo, hi);
      } else if (typeof lo === 'number') {
        ranges.push(lo, lo);
      } else {
        ranges.push(...lo);
      }
    }
    const set = normalize(ranges);
    return { t: 'char', set: negate ? complement(set) : set, start, end: this.i };
  }

  /** A single character code, or a set for class escapes such as \d. */
  private classAtom(): number | CharSet {
    const c = this.src[this.i++]!;
    if (c !== '\\') return c.charCodeAt(0);
    const n = this.escape(this.i - 1, true);
    if (n.t !== 'char') throw unsupported('only character escapes are allowed inside [...]');
    const single = singleChar(n.set);
    const escaped = this.src[n.start + 1]!;
    // \d, \w, \s and their negations are classes even when they happen to hold one character
    if (single !== undefined && !/[dDwWsS]/.test(escaped)) return single.charCodeAt(0);
    return n.set;
  }
}

/** Parses a pattern of the supported subset; throws RegexSubsetError. */
export function parseRegex(source: string): ParsedRegex {
  return new Parser(source).parse();
}

// ── analyses ──

function children(n: RegexNode): readonly RegexNode[] {
  switch (n.t) {
    case 'seq':
      return n.items;
    case 'alt':
      return n.branches;
    case 'group':
    case 'look':
    case 'quant':
      return [n.body];
    default:
      return [];
  }
}

/** Calls `visit` on n and every node below it, parents first. */
export function walkRegex(n: RegexNode, visit: (n: RegexNode) => void): void {
  visit(n);
  for (const c of children(n)) walkRegex(c, visit);
}

function find(n: RegexNode, pred: (n: RegexNode) => boolean): RegexNode | undefined {
  if (pred(n)) return n;
  for (const c of children(n)) {
    const f = find(c, pred);
    if (f) return f;
  }
  return undefined;
}

/**
 * True when n may match the empty string. Conservative: lookaround, assertions and
 * back-references count as possibly empty. The matcher relies on `false` being certain: such a
 * node consumes at least one character on every path.
 */
export function nullable(n: RegexNode): boolean {
  switch (n.t) {
    case 'char':
      return false;
    case 'seq':
      return n.items.every(nullable);
    case 'alt':
      return n.branches.some(nullable);
    case 'group':
      return nullable(n.body);
    case 'quant':
      return n.min === 0 || nullable(n.body);
    default:
      return true; // look, assert, backref (a back-reference may be empty)
  }
}

/** Literal text every match of n starts with; `complete` when n matches exactly that text. */
function literal(n: RegexNode): { text: string; complete: boolean } {
  switch (n.t) {
    case 'char': {
      const c = singleChar(n.set);
      return c === undefined ? { text: '', complete: false } : { text: c, complete: true };
    }
    case 'seq': {
      let text = '';
      for (const item of n.items) {
        const r = literal(item);
        text += r.text;
        if (!r.complete) return { text, complete: false };
      }
      return { text, complete: true };
    }
    case 'group':
      return literal(n.body);
    case 'quant': {
      if (n.min === 0) return { text: '', complete: false };
      const r = literal(n.body);
      return n.min === 1 && n.max === 1 ? r : { text: r.text, complete: false };
    }
    case 'assert':
    case 'look':
      // zero-width: consumes nothing, so the literal text around it is still consumed in order
      return { text: '', complete: true };
    default:
      return { text: '', complete: false }; // alt, backref
  }
}

/** A string every match of the (start-anchored) regex starts with; '' when nothing is certain. */
export function literalPrefix(parsed: ParsedRegex): string {
  return literal(parsed.root).text;
}

/** True when the regex has no lookaround and no assertion other than ^. */
export function isAssertionFree(parsed: ParsedRegex): boolean {
  return !find(parsed.root, (n) => n.t === 'look' || (n.t === 'assert' && n.kind !== '^'));
}
