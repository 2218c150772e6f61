// The bounded matcher (src/dialplan/matcher.ts): the same answers as V8's RegExp on the supported
// subset, a bounded number of steps on adversarial patterns, and clear errors at its limits.
import { describe, expect, it } from 'vitest';
import { prng } from '../prng.js';
import {
  BACKREF_STEP_BUDGET,
  BoundedRegexError,
  compileBoundedRegex,
  FR_PRESET,
  MAX_NESTING,
  MAX_PROGRAM_SIZE,
  MAX_VISITED_BITS,
  type BoundedRegex,
} from '../../src/dialplan/index.js';

/** What V8 answers, in the matcher's shape. */
function v8(source: string, input: string, anchored = false) {
  const m = new RegExp(anchored ? `^(?:${source})` : source).exec(input);
  return m ? { index: m.index, captures: [...m], ...(m.groups ? { groups: { ...m.groups } } : {}) } : null;
}
function ours(regex: BoundedRegex, input: string) {
  const m = regex.exec(input);
  return m ? { index: m.index, captures: [...m.captures], ...(m.groups ? { groups: { ...m.groups } } : {}) } : null;
}

/**
 * Random patterns of the supported subset: literals, classes, escapes, groups of every kind,
 * lookahead and lookbehind, ^ $ \b \B, greedy and lazy quantifiers, alternation, and
 * back-references to groups already opened.
 */
function generator(seed: number, options: { backrefs: boolean }) {
  const random = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const ATOMS = ['0', '1', '2', '3', '#', '+', 'a', 'b', '\\d', '\\D', '\\w', '\\W', '\\s', '.', '[0-2]', '[^1]', '[+#]', '[a\\d]', '\\+', '\\(', '\\)', '(', ')'];
  const QUANTS = ['*', '+', '?', '{2}', '{0,2}', '{1,3}', '{2,}', '*?', '+?', '??', '{1,2}?', '{0,}?'];
  return (): string => {
    let groups = 0;
    let named = 0;
    const atom = (depth: number): string => {
      const r = random();
      if (depth > 0 && r < 0.3) {
        const kind = random();
        if (kind < 0.35) {
          groups++;
          return `(${alternation(depth - 1)})`;
        }
        if (kind < 0.45) {
          groups++;
          return `(?<n${named++}>${alternation(depth - 1)})`;
        }
        if (kind < 0.6) return `(?:${alternation(depth - 1)})`;
        if (kind < 0.75) return `(?${pick(['=', '!'])}${alternation(depth - 1)})`;
        return `(?<${pick(['=', '!'])}${alternation(depth - 1)})`; // lookbehind: never quantified
      }
      if (r < 0.38) return pick(['^', '$', '\\b', '\\B']);
      if (options.backrefs && groups > 0 && r < 0.45) return `\\${1 + Math.floor(random() * groups)}`;
      const a = pick(ATOMS);
      return a === '(' || a === ')' ? `\\${a}` : a;
    };
    const term = (depth: number): string => {
      const a = atom(depth);
      const quantifiable = !/^(\^|\$|\\b|\\B|\(\?<[=!])/.test(a);
      return quantifiable && random() < 0.35 ? a + pick(QUANTS) : a;
    };
    const sequence = (depth: number): string => {
      const n = Math.floor(random() * 4);
      let out = '';
      for (let i = 0; i < n; i++) out += term(depth);
      return out;
    };
    function alternation(depth: number): string {
      const n = random() < 0.75 ? 1 : 2 + Math.floor(random() * 2);
      return Array.from({ length: n }, () => sequence(depth)).join('|');
    }
    return alternation(3);
  };
}

function randomInputs(seed: number, count: number, alphabet: readonly string[], maxLength: number): string[] {
  const random = prng(seed);
  return Array.from({ length: count }, () =>
    Array.from({ length: Math.floor(random() * (maxLength + 1)) }, () => alphabet[Math.floor(random() * alphabet.length)]).join(''),
  );
}

const INPUT_ALPHABET = ['0', '1', '2', '3', '9', '#', '+', '(', ')', 'a', 'b', ' ', '_', 'é', '\n'];

describe('differential: the bounded matcher answers as V8 does', () => {
  it('on 3,000 random patterns × 25 random inputs (index, every capture, named groups), unanchored and anchored', () => {
    const next = generator(12, { backrefs: false });
    const inputs = randomInputs(34, 25, INPUT_ALPHABET, 10);
    let compared = 0;
    let refused = 0;
    const kinds = { lazy: 0, lookahead: 0, lookbehind: 0, named: 0, alternation: 0, counted: 0, boundary: 0 };
    for (let p = 0; p < 3000; p++) {
      const source = next();
      let regex: BoundedRegex;
      let anchoredRegex: BoundedRegex;
      try {
        regex = compileBoundedRegex(source);
        anchoredRegex = compileBoundedRegex(source, { anchored: true });
      } catch (e) {
        expect(e).toBeInstanceOf(BoundedRegexError);
        // only what JavaScript itself refuses (e.g. a lookbehind in a quantified group) is refused
        expect(() => new RegExp(source), source).toThrow();
        refused++;
        continue;
      }
      if (/\*\?|\+\?|\?\?|\}\?/.test(source)) kinds.lazy++;
      if (/\(\?[=!]/.test(source)) kinds.lookahead++;
      if (/\(\?<[=!]/.test(source)) kinds.lookbehind++;
      if (/\(\?<n/.test(source)) kinds.named++;
      if (source.includes('|')) kinds.alternation++;
      if (/\{\d/.test(source)) kinds.counted++;
      if (/\\b|\\B|\^|\$/.test(source)) kinds.boundary++;
      for (const input of inputs) {
        expect(ours(regex, input), `/${source}/ on ${JSON.stringify(input)}`).toEqual(v8(source, input));
        expect(ours(anchoredRegex, input), `/^(?:${source})/ on ${JSON.stringify(input)}`).toEqual(v8(source, input, true));
        compared += 2;
      }
    }
    expect(refused).toBeLessThan(300);
    expect(compared).toBeGreaterThan(130_000);
    for (const [kind, count] of Object.entries(kinds)) expect(count, kind).toBeGreaterThan(150);
  });

  it('with back-references (plain backtracking under the step budget): 2,000 patterns × 25 inputs', () => {
    const next = generator(56, { backrefs: true });
    const inputs = randomInputs(78, 25, ['0', '1', '2', '#', 'a', '+'], 10);
    let withBackref = 0;
    for (let p = 0; p < 2000; p++) {
      const source = next();
      let regex: BoundedRegex;
      try {
        regex = compileBoundedRegex(source);
      } catch {
        continue;
      }
      if (regex.budgeted) withBackref++;
      for (const input of inputs) expect(ours(regex, input), `/${source}/ on ${JSON.stringify(input)}`).toEqual(v8(source, input));
    }
    expect(withBackref).toBeGreaterThan(150);
  });

  const substitute = (p: string) => p.slice(1, -1).replace(/\[-InternationalPrefix-\]/g, '00').replace(/\[-CountryCode-\]/g, '33');
  const REAL = [
    ...FR_PRESET.filter((r) => r.pattern.startsWith('[')).map((r) => substitute(r.pattern)),
    '(\\+|00)?([^\\(]+)\\(0\\)',
    '00(\\d+)',
    '(#\\d)',
    '(?<a>\\d)(?<b>\\d)',
    '(?=0[67])',
    '(?=\\+4)\\+',
    '(\\+)?44',
    '(\\+|00)44',
    '(\\d+\\))',
    '0(\\d)(\\d)',
    '0[67]',
    '1|2',
    '\\+44\\(0\\)',
    '\\+?44',
    '\\+\\d$',
    '\\d*\\d*\\d*x',
    '(\\d{2})+',
    '(12|13)+',
    '(?<=0)1',
    '(?<cc>33)\\k<cc>',
    '\\d{1,15}',
    Array.from({ length: 11 }, () => '(\\d)').join(''),
    '^[0-9]{4}$',
  ];

  it.each(REAL)('the manual and the tests: /%s/ on 3,000 random dial strings', (source) => {
    const regex = compileBoundedRegex(source, { anchored: true });
    for (const input of randomInputs(90, 3000, ['0', '0', '1', '3', '3', '4', '6', '7', '+', '(', ')', '#', '*'], 18)) {
      expect(ours(regex, input), input).toEqual(v8(source, input, true));
    }
  });

  it('character classes agree with V8 on all 65,536 code units', () => {
    for (const source of ['\\s', '\\S', '\\w', '\\W', '\\d', '\\D', '.', '[^\\n]', '[\\u00e0-\\u00ff]', '[^a-z\\s]', '\\bx', 'x\\B', '[\\b]', '\\cJ', '\\0', '[\\x00-\\x1f]']) {
      const regex = compileBoundedRegex(source);
      const js = new RegExp(source);
      for (let c = 0; c < 0x10000; c++) {
        const s = source.includes('x') ? `${String.fromCharCode(c)}x${String.fromCharCode(c)}` : String.fromCharCode(c);
        if (regex.test(s) !== js.test(s)) expect.fail(`/${source}/ on U+${c.toString(16).padStart(4, '0')}`);
      }
    }
  });

  it('JavaScript semantics that plain memoization would get wrong', () => {
    const cases: [string, string][] = [
      ['(a*)*', 'b'], // an empty iteration fails: the group stays unset
      ['(a?)+', 'b'], // the mandatory iteration may be empty
      ['(?:(a)|b)+', 'ab'], // captures are cleared at each iteration
      ['(?:a|())*b', 'aab'],
      ['(a|ab)(c|bcd)(d*)', 'abcd'], // leftmost-first, not longest
      ['(?<=(\\d+)(\\d+))$', '1053'], // lookbehind runs right to left: greedy from the right
      ['(?=(\\d+))\\d', '123'], // captures inside a positive lookahead are kept
      ['(?!(a))\\w', 'ab'], // and inside a negative one are not
      ['((a)|b)*', 'aba'],
      ['x{0,3}?y', 'xxy'],
      ['(?=(a))?a', 'a'], // a quantified lookahead (Annex B): the empty iteration fails
      ['(?:(?=(\\d))\\d)+', '123'],
      ['(?<=(a)(?=(b)))b', 'ab'],
      ['(\\d)\\1', '1123'],
      ['(a\\1)', 'aa'], // a back-reference inside its own group matches the empty string
      ['(?<!(\\d))x', '1x x'],
    ];
    for (const [source, input] of cases) expect(ours(compileBoundedRegex(source), input), source).toEqual(v8(source, input));
  });
});

/** Patterns that take V8 exponential or high polynomial time to fail. */
const ADVERSARIAL: readonly string[] = [
  '\\d?'.repeat(40) + '#', // the example
  '(?:\\d|\\d)'.repeat(40) + '#', // alternatives that match the same text, written out
  '(?:\\d|\\d)+#',
  '(?:\\d|\\d){40}#',
  '(\\d+)+#',
  '(\\d|\\d\\d)+#',
  '(.*)*#',
  '(\\d*)*\\d*#',
  '((\\d{1,3}){1,5}){1,5}#',
  '(?:(?:\\d?){8}){8}#',
  '\\d*\\d*\\d*\\d*\\d*\\d*\\d*\\d*#',
  '(?:\\d+\\d+)+#',
  '(?=(\\d?){30}#)|\\d?'.repeat(3) + '#',
  '(?:(?=\\d*#)\\d)*#\\d',
  '(?<=x(?:\\d?){30}\\d{20})#',
  '(?=((?:.?){40}(?:\\d?){40}))(?:.?){60}(?:\\d?){60}#',
  '(?:.?){120}(?:\\d?){120}\\b#', // the worst found: about every (instruction, position) pair, near the size cap
];

describe('adversarial patterns take a bounded number of steps', () => {
  // 64 characters, with the # the patterns need (so no quick rejection saves the engine): failing
  // or late-matching searches, what makes V8 backtrack exponentially
  const NUMBERS = ['#' + '1'.repeat(63), '1'.repeat(63) + '#', '1'.repeat(41) + '#' + '1'.repeat(22), '1'.repeat(40) + '2#' + '1'.repeat(22)];

  it.each(ADVERSARIAL)('/%s/ on 64-character numbers', (source) => {
    let work = 0;
    for (const regex of [compileBoundedRegex(source), compileBoundedRegex(source, { anchored: true })]) {
      expect(regex.budgeted).toBe(false);
      for (const number of NUMBERS) {
        expect(number).toHaveLength(64);
        const counter = { steps: 0 };
        regex.exec(number, counter);
        expect(regex.programSize).toBeLessThanOrEqual(MAX_PROGRAM_SIZE);
        expect(counter.steps).toBeLessThanOrEqual(regex.stepBound(64));
        // docs/dialplan.md: at most 500 × 65 steps per number, plus a lookaround's captures
        expect(counter.steps).toBeLessThanOrEqual(MAX_PROGRAM_SIZE * 65 * (source.includes('(?=((') ? 2 : 1));
        work = Math.max(work, counter.steps);
      }
    }
    expect(work).toBeGreaterThan(64); // the engine really ran
  });

  it('the bound is linear: twice the input, at most about twice the steps', () => {
    const regex = compileBoundedRegex('(\\d|\\d\\d)+#');
    const short = { steps: 0 };
    const long = { steps: 0 };
    regex.exec('#' + '1'.repeat(500), short);
    regex.exec('#' + '1'.repeat(1000), long);
    expect(short.steps).toBeGreaterThan(500);
    expect(long.steps / short.steps).toBeLessThan(2.2);
  });

  it('a pattern with a back-reference gives up at the step budget with regex-budget, naming the pattern and the fix', () => {
    const regex = compileBoundedRegex('(\\d*)*\\1x#');
    expect(regex.budgeted).toBe(true);
    const counter = { steps: 0 };
    let error: unknown;
    try {
      regex.exec('#x' + '1'.repeat(62), counter);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BoundedRegexError);
    expect(error).toMatchObject({ code: 'regex-budget', pattern: '(\\d*)*\\1x#' });
    expect((error as Error).message).toBe(
      'the regular expression "(\\d*)*\\1x#" gave up after 50,000 steps on "#x11111111111111111111111111111111111111…": a pattern with back-references (\\1, \\k<name>) has no speed guarantee; remove the back-reference, or the repetitions around it',
    );
    expect(counter.steps).toBe(BACKREF_STEP_BUDGET + 1);
    // ordinary back-references stay far below the budget
    expect(compileBoundedRegex('(\\d)\\1').exec('4417')?.captures).toEqual(['44', '4']);
    for (const [source, number] of [['(\\d)\\1', '1234567890'.repeat(6) + '1234'], ['(?<cc>33)\\k<cc>', '3'.repeat(63) + '4']] as const) {
      for (const anchored of [false, true]) {
        const c = { steps: 0 };
        compileBoundedRegex(source, { anchored }).exec(number, c);
        expect(c.steps).toBeLessThan(1_000);
      }
    }
  });
});

describe('limits', () => {
  it(`a pattern expanding past ${MAX_PROGRAM_SIZE} instructions is refused before compiling (regex-too-large)`, () => {
    for (const source of ['(\\d{1000}){1000}', '\\d{501}', '(((\\d{100}){100}){100}){100}', '(?:a{0,50}){50}']) {
      expect(() => compileBoundedRegex(source), source).toThrow(BoundedRegexError);
      try {
        compileBoundedRegex(source);
      } catch (e) {
        expect((e as BoundedRegexError).code).toBe('regex-too-large');
        expect((e as Error).message).toMatch(/is repeated too many times: use smaller counts in \{n,m\}, or \+ and \* instead of large counts/);
      }
    }
    expect(compileBoundedRegex('\\d{1,64}').programSize).toBeLessThan(MAX_PROGRAM_SIZE);
  });

  it(`groups nested more than ${MAX_NESTING} deep are refused (regex-unsupported), not a stack overflow`, () => {
    const deep = '('.repeat(50_000) + 'a' + ')'.repeat(50_000);
    expect(() => compileBoundedRegex(deep)).toThrow(/nested more than 100 deep at position 101; flatten the pattern/);
    expect(() => compileBoundedRegex(deep)).toThrow(expect.objectContaining({ code: 'regex-unsupported' }));
    expect(compileBoundedRegex('('.repeat(MAX_NESTING) + 'a' + ')'.repeat(MAX_NESTING)).test('a')).toBe(true);
  });

  it('an input too long for the visited set is refused (regex-input-too-long), not allocated', () => {
    const regex = compileBoundedRegex('\\d{450}#');
    const length = Math.ceil(MAX_VISITED_BITS / regex.programSize);
    let error: unknown;
    try {
      regex.test('1'.repeat(length) + '#');
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'regex-input-too-long' });
    expect((error as Error).message).toMatch(/cannot be matched against a text of [\d,]+ characters: its 452-instruction program would need more than 16,777,216 bits of memory; shorten the text or simplify the pattern/);
    expect(regex.test('1'.repeat(450) + '#')).toBe(true);
    // never with dial strings: the largest program on the longest dial string fits easily
    expect(MAX_PROGRAM_SIZE * (64 + 1)).toBeLessThan(MAX_VISITED_BITS);
  });

  it('invalid and unsupported patterns: typed errors with the reason', () => {
    const code = (source: string) => {
      try {
        compileBoundedRegex(source);
        return 'compiled';
      } catch (e) {
        return `${(e as BoundedRegexError).code}: ${(e as Error).message}`;
      }
    };
    expect(code('(33')).toMatch(/^regex-invalid: not a valid regular expression: a '\(' is never closed/);
    expect(code('(?<=a)*')).toMatch(/^regex-invalid: not a valid regular expression: a quantifier .* follows something that cannot be repeated/);
    expect(code('(?>a)')).toMatch(/^regex-unsupported: atomic groups/);
    expect(code('\\p{L}')).toMatch(/^regex-unsupported: Unicode categories/);
  });

  it('compiling is cached by source: the same pattern gives the same program', () => {
    expect(compileBoundedRegex('0[1-9]\\d{8}')).toBe(compileBoundedRegex('0[1-9]\\d{8}'));
    expect(compileBoundedRegex('0[1-9]\\d{8}')).not.toBe(compileBoundedRegex('0[1-9]\\d{8}', { anchored: true }));
  });
});
