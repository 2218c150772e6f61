// Regex rules: the .NET/JavaScript common subset, bounded matching, value references.
import { describe, expect, it } from 'vitest';
import { behaviourDiff, compileDialPlan, dialString, isCompiled, isRegexPattern, resolveDialPlan, SAMPLE_NUMBERS, translate } from '../../src/dialplan/index.js';
import { compile, MANUAL_SETTINGS, problems, rule } from './helpers.js';

function refused(pattern: string, value = '0') {
  const ps = problems({ outgoing: [{ priority: 7, pattern, value }] });
  expect(ps).toHaveLength(1);
  return ps[0]!;
}

describe('what counts as a regular expression', () => {
  it.each([
    ['[\\+33]', true],
    ['[(\\+|[-InternationalPrefix-])33\\(0\\)]', true],
    ['[[-CountryCode-]]', true],
    ['[-InternationalPrefix-]', false], // a placeholder alone is a plain pattern
    ['[-InternationalPrefix-]33[-ExternalPrefix-]', false],
    ['+33', false],
  ])('%s → regex %s', (pattern, expected) => {
    expect(isRegexPattern(pattern)).toBe(expected);
  });
});

describe('.NET-only or differently-read constructs are refused (regex-unsupported)', () => {
  it.each([
    ["[(?'cc'\\d+)]", /\(\?'name'…\)" groups are \.NET-only/],
    ['[(?<a-b>\\d)]', /balancing group/],
    ['[(?<-b>\\d)]', /balancing group/],
    ['[(?i)33]', /inline options/],
    ['[(?x:3 3)]', /inline options/],
    ['[(?>\\d+)0]', /atomic groups/],
    ['[(?(1)a|b)]', /conditional groups/],
    ['[(?#comment)33]', /inline comments/],
    ['[\\A33]', /\\A" is a \.NET anchor/],
    ['[33\\Z]', /\\Z" is a \.NET anchor/],
    ['[33\\z]', /\\z" is a \.NET anchor/],
    ['[\\G33]', /\\G" is a \.NET anchor/],
    ['[\\d++]', /possessive quantifier/],
    ['[\\d*+0]', /possessive quantifier/],
    ['[[0-9-[5]]]', /class subtraction/],
    ['[[]0]]', /empty class in JavaScript/],
    ['[[^]0]]', /any character/],
    ['[\\p{Nd}+]', /Unicode categories/],
    ['[\\e]', /control-character escape/],
    ['[\\012]', /octal escapes/],
    ['[(\\d)\\2]', /group 2, which does not exist/],
    ["[(?<cc>\\d)\\k'cc']", /\\k'name' form/],
    ['[\\q]', /not a recognised escape/],
    ['[\\x4]', /two hexadecimal digits/],
    ['[(?<1>\\d)]', /group name "1"/],
    ['[(?<a>\\d)(?<a>\\d)]', /used twice/],
  ])('%s', (pattern, message) => {
    const p = refused(pattern);
    expect(p.code).toBe('regex-unsupported');
    expect(p.message).toMatch(message);
    expect(p).toMatchObject({ severity: 'error', path: ['outgoing', 0, 'pattern'], direction: 'outgoing', index: 0, priority: 7 });
  });
});

describe('invalid syntax (regex-invalid: what is wrong and how to write it, never raw JavaScript text)', () => {
  it.each([
    ['[(33]', /not a valid regular expression: a '\(' is never closed: add the '\)', or write \\\( for a literal parenthesis$/],
    ['[33)]', /not a valid regular expression: a '\)' closes no group: remove it, or write \\\) for a literal parenthesis$/],
    ['[*33]', /not a valid regular expression: a quantifier \(\* \+ \? \{n\}\) follows nothing it can repeat: put it after a character or group, or escape it/],
    ['[3{2,1}]', /the first number is larger than the second: write the smaller first$/],
    ['[[9-0]]', /goes backwards, like \[9-0\]: write it from low to high, \[0-9\]$/],
    ['[a)|(b]', /a '\)' closes no group/], // must not be hidden by the anchoring wrapper
  ])('%s', (pattern, message) => {
    const p = refused(pattern);
    expect(p.code).toBe('regex-invalid');
    expect(p.message).toMatch(message);
    expect(p.message).not.toContain('Invalid regular expression');
  });
});

describe('patterns once refused for catastrophic backtracking are accepted: matching is bounded', () => {
  // the static heuristic (regex-backtracking) is gone: the bounded matcher makes these linear
  it.each([
    ['[(\\d+)+x]', '1'.repeat(64), null],
    ['[(a+)+$]', 'a'.repeat(64) + 'b', null],
    ['[(\\d?)+]', '1'.repeat(64), '1'.repeat(64)],
    ['[(1|11)+2]', '1'.repeat(64), null],
    ['[(\\d|1)+]', '1'.repeat(64), '1'.repeat(64)],
    ['[(?:\\d{1,3})+]', '1'.repeat(64), '1'.repeat(64)],
    ['[(\\d|)+x]', '1'.repeat(64), null],
    ['[\\d+\\d+\\d+\\d+x]', '1'.repeat(64), null],
    ['[.*1.*2.*3.*4]', '1'.repeat(64), null],
  ])('%s on a 64-character number', (pattern, number, matched) => {
    const plan = compile({ outgoing: [rule(pattern, '9', 1)] });
    const t = translate(plan, number, 'outgoing');
    if (matched === null) expect(t.rule).toBeUndefined();
    else expect(t.rule?.priority).toBe(1);
    const regex = plan.outgoing[0]!.regex!;
    const counter = { steps: 0 };
    regex.exec(number, counter);
    expect(counter.steps).toBeLessThanOrEqual(regex.stepBound(number.length));
  });

  it.each([
    '[(\\+|00)?([^\\(]+)\\([^\\)]+\\)]', // the manual's rule 30
    '[(\\d{2})+]',
    '[(12|13)+]',
    '[(?<=0)1]',
    '[(?<cc>33)\\k<cc>]',
    '[\\d{1,15}]',
  ])('accepts %s', (pattern) => {
    expect(() => compile({ outgoing: [rule(pattern, '0')] })).not.toThrow();
  });

  it('a pattern too large to compile is refused with regex-too-large, naming the repetition', () => {
    const p = refused('[(\\d{1000}){1000}]');
    expect(p.code).toBe('regex-too-large');
    expect(p.message).toMatch(/expands to more than 500 instructions; "\(\\d\{1000\}\)\{1000\}" is repeated too many times: use smaller counts/);
    expect(p).toMatchObject({ severity: 'error', path: ['outgoing', 0, 'pattern'] });
  });

  it("the issue's rules (40 optional digits, alternatives written out) through translate and behaviourDiff: bounded steps", () => {
    const rules = [rule('[' + '\\d?'.repeat(40) + '#]', '1', 1), rule('[' + '(?:\\d|\\d)'.repeat(30) + '#]', '2', 2), rule('[(\\d|\\d\\d)+#]', '3', 3)];
    const plan = compile({ preset: 'fr', outgoing: rules, incoming: rules });
    const regexes = [...plan.outgoing, ...plan.incoming].flatMap((r) => (r.regex ? [r.regex] : []));
    // first: this is the bounded matcher (V8's engine would take minutes below)
    for (const r of regexes) expect(r.stepBound).toBeTypeOf('function');
    const samples = SAMPLE_NUMBERS(MANUAL_SETTINGS);
    const changes = behaviourDiff(null, plan, samples);
    expect(changes.length).toBeGreaterThan(20);
    for (const { number } of samples) {
      const dial = dialString(number);
      for (const r of regexes) {
        const counter = { steps: 0 };
        r.exec(dial, counter);
        expect(counter.steps).toBeLessThanOrEqual(r.stepBound(dial.length));
      }
    }
    expect(translate(plan, '0'.repeat(63) + '1', 'incoming').rule).toBeUndefined();
  });

  it('a rule with a back-reference that exceeds the step budget: the number is not translated, and the reason names the rule and the fix', () => {
    const plan = compile({ outgoing: [rule('[(\\d*)*\\1\\(\\d]', '9', 3), rule('0', '0', 4)] });
    const t = translate(plan, '0612345678901234567890 (', 'outgoing', { steps: true });
    expect(t.result).toBeNull();
    expect(t.rule?.priority).toBe(3);
    expect(t.reason).toMatch(/^rule 3 \(pattern \[\(\\d\*\)\*\\1\\\(\\d\]\) could not be evaluated, so the number is not translated: the regular expression .* gave up after 50,000 steps on "0612345678901234567890\(": a pattern with back-references \(\\1, \\k<name>\) has no speed guarantee; remove the back-reference, or the repetitions around it$/);
    expect(t.steps?.map((x) => x.step)).toEqual(['clean-up', 'rule-gave-up']);
    // other numbers are not affected
    expect(translate(plan, '0612345678', 'outgoing').rule?.priority).toBe(4);
  });

  it('numbers over the 64-character limit never reach a regex', () => {
    const plan = compile({ preset: 'fr', outgoing: [rule('[\\d*\\d*\\d*x]', '0', 1)] });
    const huge = translate(plan, '1'.repeat(100_000) + 'y', 'outgoing');
    expect(huge.result).toBeNull();
    expect(huge.reason).toMatch(/over the limit of 64/);
  });
});

describe('values', () => {
  it.each([
    ['[(\\d)]', '$2', 'value-group-missing', /refers to group 2, but the pattern has 1 group/],
    ['[(\\d)]', '${2}', 'value-group-missing', /group 2/],
    ['[(?<a>\\d)]', '${a}', 'value-unsupported', /named reference/],
    ['[(\\d)]', '$+', 'value-unsupported', /"\$\+" is not supported/],
    ['[(\\d)]', '$_', 'value-unsupported', /"\$_" is not supported/],
    ['[(\\d)]', "$'", 'value-unsupported', /is not supported/],
    ['[(\\d)]', '$', 'value-unsupported', /a lone "\$"/],
    ['[(\\d)]', '0 0', 'value-invalid-char', /" " cannot be dialled/],
    ['33', '$1', 'value-invalid-char', /only work when the pattern is a regular expression/],
    ['33', '0x', 'value-invalid-char', /"x" cannot be dialled/],
    ['33', '[-Foo-]', 'placeholder-unknown', /unknown placeholder \[-Foo-\]/],
    ['33', '[-externalprefix-]', 'placeholder-unknown', /did you mean \[-ExternalPrefix-\]/],
  ])('pattern %s, value %s → %s', (pattern, value, code, message) => {
    const p = refused(pattern, value);
    expect(p.code).toBe(code);
    expect(p.message).toMatch(message);
    expect(p.path).toEqual(code === 'placeholder-unknown' || code.startsWith('value') ? ['outgoing', 0, 'value'] : ['outgoing', 0, 'pattern']);
  });

  it('two-digit references use two digits only when that group exists', () => {
    const groups = Array.from({ length: 11 }, () => '(\\d)').join('');
    const p = compile({ outgoing: [rule(`[${groups}]`, '$11$10', 1), rule('[9(\\d)]', '$10', 2)] });
    expect(translate(p, '12345678901234', 'outgoing').result).toBe('10234'); // $11 = 1, $10 = 0, rest 234
    // only one group: $10 is group 1 followed by 0
    expect(translate(p, '9512345', 'outgoing').result).toBe('5012345');
  });

  it('mixing named and unnamed groups with $n is refused (numbering differs)', () => {
    const p = refused('[(?<cc>\\d\\d)(\\d)]', '$1');
    expect(p.code).toBe('regex-group-numbering');
    // only named groups: same numbering in both engines, accepted
    const ok = compile({ outgoing: [rule('[(?<a>\\d)(?<b>\\d)]', '$2$1')] });
    expect(translate(ok, '1234567', 'outgoing').result).toBe('2134567');
  });
});

describe('patterns', () => {
  it.each([
    ['', 'pattern-empty'],
    ['  ', 'pattern-empty'],
    ['[]', 'pattern-empty'], // brackets around nothing
    ['[-ExternalPrefix-]', 'pattern-empty'], // with an empty external prefix
    ['33a', 'pattern-invalid-char'],
    ['3+3', 'pattern-invalid-char'],
    ['[0-9', 'pattern-invalid-char'],
    ['[-Country-]33', 'placeholder-unknown'],
  ])('%j → %s', (pattern, code) => {
    const ps = problems({ externalPrefix: '', outgoing: [{ priority: 1, pattern, value: '1' }] });
    expect(ps.map((p) => p.code)).toEqual([code]);
  });

  it('[0-9 hints that a regex must end with ]', () => {
    expect(refused('[0-9').message).toMatch(/must end with "\]"/);
  });

  it('reports every problem of every rule at once, with the YAML index of each', () => {
    const r = compileDialPlan(
      resolveDialPlan(
        {
          outgoing: [rule('[(\\d{1000}){1000}]', '0', 1), rule('+', '00', 2), rule('[\\A1]', '0', 3)],
          incoming: [rule('33', '[-Nope-]', 1)],
        },
        MANUAL_SETTINGS,
      ),
    );
    expect(isCompiled(r)).toBe(false);
    expect(!isCompiled(r) && r.map((p) => [p.code, p.direction, p.index])).toEqual([
      ['regex-too-large', 'outgoing', 0],
      ['regex-unsupported', 'outgoing', 2],
      ['placeholder-unknown', 'incoming', 0],
    ]);
  });
});
