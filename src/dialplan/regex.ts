/**
 * The regular-expression subset shared by .NET (what the manual's rules are written for) and
 * JavaScript (what runs them here), and the static checks made before a rule is accepted.
 *
 * Design note. A small recursive-descent parser reads the pattern into a tree. It refuses,
 * with a message saying why, every construct that JavaScript lacks or reads differently
 * (atomic groups, inline options, \A \Z \z \G, balancing groups, class subtraction, octal
 * escapes, \p{…}, `[]…]`, …). The tree then feeds three analyses:
 *   - backtracking: a repeated group containing a variable repetition (`(a+)+`, `(.*a){3}`)
 *     or alternatives that can match the same text (`(a|a)*`, `(1|11)+`) is refused, and so is
 *     a pattern where four or more open-ended repetitions can all match the same character
 *     (`\d+\d+\d+\d+x`). With dial strings capped at MAX_NUMBER_LENGTH (64) what remains
 *     runs in at most a few hundred thousand steps.
 *   - literalPrefix: a string every match starts with, for unreachable-rule detection.
 *   - assertionFree: no lookaround, `$`, `\b`, `\B`. For such a regex, a match found in a
 *     string s is also found in every string that starts with s (the matching path reads only
 *     the characters it consumed), which is what makes unreachable-rule reports certain.
 * The parser never runs a regex; JavaScript's own `new RegExp` is still the judge of syntax.
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

// ── character sets: 128 ASCII slots + one slot standing for "any non-ASCII character" ──

const OTHER = 128;
type CharSet = Uint8Array;

function emptySet(): CharSet {
  return new Uint8Array(129);
}
function rangeSet(lo: number, hi: number, into: CharSet = emptySet()): CharSet {
  for (let c = lo; c <= Math.min(hi, 127); c++) into[c] = 1;
  if (hi > 127) into[OTHER] = 1;
  return into;
}
function unionInto(into: CharSet, s: CharSet): CharSet {
  for (let i = 0; i < 129; i++) if (s[i]) into[i] = 1;
  return into;
}
function complement(s: CharSet): CharSet {
  const out = emptySet();
  for (let i = 0; i < 128; i++) out[i] = s[i] ? 0 : 1;
  out[OTHER] = 1;
  return out;
}
function intersects(a: CharSet, b: CharSet): boolean {
  for (let i = 0; i < 129; i++) if (a[i] && b[i]) return true;
  return false;
}
function singleChar(s: CharSet): string | undefined {
  if (s[OTHER]) return undefined;
  let found = -1;
  for (let i = 0; i < 128; i++) {
    if (s[i]) {
      if (found >= 0) return undefined;
      found = i;
    }
  }
  return found >= 0 ? String.fromCharCode(found) : undefined;
}
function charSet(code: number): CharSet {
  return rangeSet(code, code);
}

const DIGIT = rangeSet(48, 57);
const WORD = (() => {
  const s = rangeSet(48, 57);
  rangeSet(65, 90, s);
  rangeSet(97, 122, s);
  s[95] = 1;
  return s;
})();
const SPACE = (() => {
  const s = rangeSet(9, 13);
  s[32] = 1;
  s[OTHER] = 1;
  return s;
})();
const DOT = (() => {
  const s = complement(emptySet());
  s[10] = 0;
  s[13] = 0;
  return s;
})();
const ANY = complement(emptySet());

// ── the tree ──

interface Span {
  readonly start: number;
  readonly end: number;
}
export type RegexNode =
  | (Span & { readonly t: 'char'; readonly set: CharSet })
  | (Span & { readonly t: 'seq'; readonly items: readonly RegexNode[] })
  | (Span & { readonly t: 'alt'; readonly branches: readonly RegexNode[] })
  | (Span & { readonly t: 'group'; readonly body: RegexNode; readonly capture: boolean; readonly name?: string })
  | (Span & { readonly t: 'look'; readonly body: RegexNode })
  | (Span & { readonly t: 'assert'; readonly kind: '^' | '$' | '\\b' | '\\B' })
  | (Span & { readonly t: 'backref' })
  | (Span & { readonly t: 'quant'; readonly body: RegexNode; readonly min: number; readonly max: number });

/** What the parser learnt about a pattern. */
export interface ParsedRegex {
  readonly root: RegexNode;
  readonly source: string;
  /** Number of capturing groups (named ones included). */
  readonly captureCount: number;
  readonly namedCount: number;
  readonly unnamedCount: number;
}

const unsupported = (m: string) => new RegexSubsetError('unsupported', m);
const syntax = (m: string) => new RegexSubsetError('syntax', m);

class Parser {
  private i = 0;
  private captures = 0;
  private named = 0;
  private readonly names = new Set<string>();
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
    if (this.peek() === '?') this.i++; // lazy: same language, same analysis
    else if (this.peek() === '+') {
      throw unsupported(`possessive quantifier "${this.src.slice(atom.end, this.i + 1)}" is not supported (neither .NET nor JavaScript has it)`);
    }
    if (this.quantifierAhead()) throw syntax(`nested quantifier at position ${this.i + 1}`);
    return { t: 'quant', body: atom, min, max, start: atom.start, end: this.i };
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
    let kind: 'capture' | 'plain' | 'look' = 'capture';
    let name: string | undefined;
    if (this.peek() === '?') {
      this.i++;
      const c = this.src[this.i++];
      if (c === ':') kind = 'plain';
      else if (c === '=' || c === '!') kind = 'look';
      else if (c === '<' && (this.peek() === '=' || this.peek() === '!')) {
        this.i++;
        kind = 'look';
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
        this.names.add(name);
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
    if (kind === 'capture') this.captures++;
    const body = this.alternation();
    if (this.peek() !== ')') throw syntax(`group opened at position ${start + 1} is missing its ")"`);
    this.i++;
    if (kind === 'look') return { t: 'look', body, start, end: this.i };
    return { t: 'group', body, capture: kind === 'capture', ...(name !== undefined ? { name } : {}), start, end: this.i };
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
          return { t: 'backref', start, end: this.i };
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
          return { t: 'backref', start, end: this.i };
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
    const set = emptySet();
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
        rangeSet(lo, hi, set);
      } else if (typeof lo === 'number') {
        unionInto(set, charSet(lo));
      } else {
        unionInto(set, lo);
      }
    }
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

function walk(n: RegexNode, visit: (n: RegexNode) => void): void {
  visit(n);
  for (const c of children(n)) walk(c, visit);
}

function find(n: RegexNode, pred: (n: RegexNode) => boolean): RegexNode | undefined {
  if (pred(n)) return n;
  for (const c of children(n)) {
    const f = find(c, pred);
    if (f) return f;
  }
  return undefined;
}

function nullable(n: RegexNode): boolean {
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

/** Characters a non-empty match of n can start with. */
function first(n: RegexNode): CharSet {
  switch (n.t) {
    case 'char':
      return n.set;
    case 'seq': {
      const out = emptySet();
      for (const item of n.items) {
        unionInto(out, first(item));
        if (!nullable(item)) break;
      }
      return out;
    }
    case 'alt':
      return n.branches.reduce((acc, b) => unionInto(acc, first(b)), emptySet());
    case 'group':
    case 'quant':
      return first(n.body);
    case 'backref':
      return ANY;
    default:
      return emptySet();
  }
}

/** Every character n can consume anywhere. */
function charsOf(n: RegexNode): CharSet {
  const out = emptySet();
  walk(n, (m) => {
    if (m.t === 'char') unionInto(out, m.set);
    else if (m.t === 'backref') unionInto(out, ANY);
  });
  return out;
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

const variable = (n: RegexNode) => n.t === 'quant' && n.min !== n.max;

function overlappingAlternatives(alt: Extract<RegexNode, { t: 'alt' }>, src: string): string | undefined {
  const bs = alt.branches;
  for (let i = 0; i < bs.length; i++) {
    for (let j = i + 1; j < bs.length; j++) {
      const a = bs[i]!;
      const b = bs[j]!;
      const ta = src.slice(a.start, a.end);
      const tb = src.slice(b.start, b.end);
      if (nullable(a) || nullable(b)) return `alternatives "${ta}" and "${tb}" can both match nothing`;
      const la = literal(a);
      const lb = literal(b);
      if (la.complete && lb.complete) {
        if (la.text.startsWith(lb.text) || lb.text.startsWith(la.text)) {
          return `alternatives "${ta}" and "${tb}" can match the same text`;
        }
      } else if (intersects(first(a), first(b))) {
        return `alternatives "${ta}" and "${tb}" can start with the same character`;
      }
    }
  }
  return undefined;
}

/** Most open-ended repetitions allowed to compete for the same character. */
export const MAX_OVERLAPPING_REPETITIONS = 3;

/**
 * Refuses patterns prone to catastrophic backtracking. Returns a message, or undefined when the
 * pattern is accepted. Conservative: some harmless patterns (e.g. `(\d+-)+`) are refused too.
 */
export function backtrackingRisk(parsed: ParsedRegex): string | undefined {
  const src = parsed.source;
  let message: string | undefined;
  walk(parsed.root, (n) => {
    if (message || n.t !== 'quant' || n.max <= 1) return;
    const outer = src.slice(n.start, n.end);
    const inner = find(n.body, variable);
    if (inner) {
      message = `"${outer}" repeats "${src.slice(inner.start, inner.end)}", itself a variable repetition: nested repetitions can take exponential time to fail; rewrite without the outer repetition`;
      return;
    }
    const alt = find(n.body, (m) => m.t === 'alt' && overlappingAlternatives(m, src) !== undefined);
    if (alt && alt.t === 'alt') {
      message = `"${outer}" repeats a choice where ${overlappingAlternatives(alt, src)}: this can take exponential time to fail; make the alternatives start with different characters`;
    }
  });
  if (message) return message;

  const open: RegexNode[] = [];
  walk(parsed.root, (n) => {
    if (n.t === 'quant' && n.max - n.min >= 2) open.push(n);
  });
  if (open.length > MAX_OVERLAPPING_REPETITIONS) {
    const sets = open.map(charsOf);
    for (let c = 0; c < 129; c++) {
      const competing = open.filter((_, k) => sets[k]![c]);
      if (competing.length > MAX_OVERLAPPING_REPETITIONS) {
        const list = competing.map((q) => `"${src.slice(q.start, q.end)}"`).join(', ');
        return `${competing.length} repetitions (${list}) can all match the same characters: trying every way to share the number between them is too slow; use at most ${MAX_OVERLAPPING_REPETITIONS}`;
      }
    }
  }
  return undefined;
}
