// The ambiguities the manual leaves open, each settled as docs/dialplan.md's truth tables say.
import { describe, expect, it } from 'vitest';
import { cleanUp, dialString, MAX_NUMBER_LENGTH, translate } from '../../src/dialplan/index.js';
import { compile, rule } from './helpers.js';

describe('cleanUp (§5.1) and dialString', () => {
  it.each([
    ['+33 (0) 1 23 45 67 89', '+330123456789', '+33(0)123456789'],
    ['01.23.45.67.89', '0123456789', '0123456789'],
    ['01-23-45-67-89', '0123456789', '0123456789'],
    ['01/23/45/67/89', '0123456789', '0123456789'],
    ['  +44 20 7946 0958', '+442079460958', '+442079460958'], // leading spaces do not count as "first"
    ['#31#', '#31', '#31'], // # kept only in first position
    ['*21*06#', '*2106', '*2106'],
    ['0+33', '033', '033'], // + not first: removed
    ['(+33) 1 23', '+33123', '+33123'], // parentheses before the first digit wrap a prefix
    ['+(33) (0)1 23', '+330123', '+33(0)123'], // … later ones are kept in the dial string
    ['((+44)) 20', '+4420', '+4420'],
    ['(0)1 23 45', '012345', '012345'],
    ['( +33)1', '+331', '+331'],
    ['tel: 01 23', '0123', '0123'],
    ['+', '+', '+'],
    ['', '', ''],
    ['abc', '', ''],
    ['＋３３ １', '+331', '+331'], // full-width digits and plus (NFKC)
    ['++33', '+33', '+33'],
  ])('%j → cleaned %j, dial string %j', (input, cleaned, dial) => {
    expect(cleanUp(input)).toBe(cleaned);
    expect(dialString(input)).toBe(dial);
    expect(cleanUp(dialString(input))).toBe(cleaned);
  });
});

describe('outgoing truth table', () => {
  const plan = compile({
    outgoing: [
      rule('112', '0112', 1), // an explicit short-code rule
      rule('33', '0', 2), // a prefix rule that also matches the start of extensions 33xx
      rule('+4420', '[-ExternalPrefix-]00 44 20'.replace(/ /g, ''), 3), // value carries the prefix
      rule('+4499', '', 4), // a DID range mapped to an internal number
      rule('+49', '+49', 5), // keeps +: not dialable with a prefix in front
      rule('+', '00', 6), // manual example: value without the external prefix
      rule('#', '#', 7),
    ],
  });

  // number, result, rule priority (undefined = no rule), external prefix added
  const table: [string, string | null, number | undefined, boolean, string][] = [
    ['1234', '1234', undefined, false, 'internal, no rule matches: unchanged'],
    ['3312', '3312', undefined, false, 'internal, rule 2 matches only its start: not applied'],
    ['112', '0112', 1, false, 'internal, rule 1 matches the whole number: applied'],
    ['33123456789', '0123456789', 2, false, 'external, rule matches, no +: only the rule'],
    ['0123456789', '00123456789', undefined, true, 'external, no rule: external prefix added'],
    ['+44 20 7946 0958', '000442079460958', 3, false, '+, value starts with [-ExternalPrefix-]: not added again'],
    ['+44 99 1234', '1234', 4, false, '+, result is internal: not added'],
    ['+49 30 1234567', '+49301234567', 5, false, '+, result starts with +: not added'],
    ['+39 06 1234 5678', '000390612345678', 6, true, '+, plain value, external result: added'],
    ['#31#01', '#3101', 7, false, '#, rule matches: only the rule'],
    ['*8', '*8', undefined, false, '*, no rule: sent as cleaned'],
  ];

  it.each(table)('%s → %s (rule %s, prefix added %s): %s', (number, result, priority, added) => {
    const t = translate(plan, number, 'outgoing');
    expect(t.result).toBe(result);
    expect(t.rule?.priority).toBe(priority);
    expect(t.externalPrefixAdded).toBe(added);
  });

  it('a + number matching no rule is sent as cleaned, and the reason says why it may fail', () => {
    const t = translate(compile({}), '+44 20 7946 0958', 'outgoing');
    expect(t.result).toBe('+442079460958');
    expect(t.reason).toMatch(/add a rule for "\+"/);
  });

  it('an empty external prefix is never added', () => {
    const noPrefix = compile({ externalPrefix: '', outgoing: [rule('+', '00')] });
    expect(translate(noPrefix, '0123456789', 'outgoing').result).toBe('0123456789');
    expect(translate(noPrefix, '+39 06 1234 5678', 'outgoing').result).toBe('00390612345678');
  });

  it('internal length 0: nothing is internal', () => {
    const p = compile({ internalLength: 0 });
    expect(translate(p, '12', 'outgoing').result).toBe('012');
  });
});

describe('results that are null', () => {
  const plan = compile({ preset: 'fr', outgoing: [rule('+3399', '', 1)] });
  it.each([
    ['', /contains no digits/],
    ['abc', /contains no digits/],
    ['+', /contains no digits/],
    ['#*', /contains no digits/],
    ['1'.repeat(MAX_NUMBER_LENGTH + 1), /over the limit of 64/],
    ['+3399', /leaves no digits/],
  ])('%j → null', (number, reason) => {
    const t = translate(plan, number, 'outgoing');
    expect(t.result).toBeNull();
    expect(t.reason).toMatch(reason);
  });

  it(`exactly ${MAX_NUMBER_LENGTH} characters is still translated`, () => {
    expect(translate(plan, '1'.repeat(MAX_NUMBER_LENGTH), 'outgoing').result).toBe('0' + '1'.repeat(64));
  });
});

describe('matching against the dial string', () => {
  it('plain patterns are normalized like numbers: "+33 (0)" matches +33(0)…', () => {
    const p = compile({ outgoing: [rule('+33 (0)', '[-ExternalPrefix-]0')] });
    expect(translate(p, '+33 (0)1 23 45 67 89', 'outgoing').result).toBe('00123456789');
    // a plain +33 pattern sees the parentheses too, and does not match +3(3)…
    expect(translate(compile({ outgoing: [rule('+33', '00')] }), '+3(3)123456', 'outgoing').rule).toBeUndefined();
  });

  it('parentheses in the rest of the number are dropped from the result, their digits kept', () => {
    const p = compile({ outgoing: [rule('+33', '[-ExternalPrefix-]0')] });
    expect(translate(p, '+33 1 (23) 45 67 89', 'outgoing').result).toBe('00123456789');
  });

  it('a regex is anchored at the start, top-level alternatives included', () => {
    const p = compile({ outgoing: [rule('[1|2]', '9')] });
    expect(translate(p, '1555666', 'outgoing').result).toBe('9555666');
    expect(translate(p, '2555666', 'outgoing').result).toBe('9555666');
    const t = translate(p, '3555126', 'outgoing'); // contains 1 and 2, but not at the start
    expect(t.rule).toBeUndefined();
    expect(t.result).toBe('03555126');
  });

  it('the matched part is replaced and the rest kept; $n, ${n} and $0 are substituted', () => {
    const p = compile({
      outgoing: [
        rule('[0(\\d)(\\d)]', '9$2$1', 1),
        rule('[5(\\d)]', '${1}0', 2),
        rule('[7\\d]', '$0$0', 3),
      ],
    });
    expect(translate(p, '0123456', 'outgoing').result).toBe('9213456');
    expect(translate(p, '5123456', 'outgoing').result).toBe('1023456'); // ${1}0 is group 1 then 0
    expect(translate(p, '7123456', 'outgoing').result).toBe('717123456');
  });

  it('text taken from the number contributes only its digits: + # * ( ) come from the value', () => {
    const p = compile({ outgoing: [rule('[(\\d+\\))]', '9$1', 1), rule('[\\+44]', '$0', 2), rule('[(#\\d)]', '*$1', 3)] });
    expect(translate(p, '12)345678', 'outgoing').result).toBe('912345678'); // $1 = "12)"
    expect(translate(p, '+44 20 7946 0958', 'outgoing').result).toBe('0442079460958'); // $0 = "+44"
    expect(translate(p, '#5 1234', 'outgoing').result).toBe('*51234'); // $1 = "#5"
  });

  it('an optional group that did not take part is replaced by nothing', () => {
    const p = compile({ outgoing: [rule('[(\\+)?44]', '[-InternationalPrefix-]44$1')] });
    expect(translate(p, '4420', 'outgoing').result).toBe('4420'); // internal, partial match
    expect(translate(p, '442079460958', 'outgoing').result).toBe('00442079460958');
  });

  it('a regex that matches the empty start prepends its value to the whole number', () => {
    const p = compile({ outgoing: [rule('[(?=0[67])]', '[-ExternalPrefix-]')] });
    expect(translate(p, '06 12 34 56 78', 'outgoing').result).toBe('00612345678');
    expect(translate(p, '01 23 45 67 89', 'outgoing').rule).toBeUndefined();
  });
});

describe('placeholders', () => {
  it('[-CountryCode-], [-InternationalPrefix-], [-ExternalPrefix-] in plain patterns and values', () => {
    const p = compile({
      countryCode: '41',
      externalPrefix: '9',
      internationalPrefix: '00',
      outgoing: [rule('+[-CountryCode-]', '[-ExternalPrefix-]0', 1), rule('[-InternationalPrefix-][-CountryCode-]', '[-ExternalPrefix-]0', 2)],
    });
    expect(translate(p, '+41 44 668 18 00', 'outgoing').result).toBe('90446681800');
    expect(translate(p, '0041 44 668 18 00', 'outgoing').result).toBe('90446681800');
  });

  it('[-CountryCode-] inside a regex', () => {
    const p = compile({ countryCode: '32', outgoing: [rule('[\\+[-CountryCode-]\\(0\\)]', '[-ExternalPrefix-]0')] });
    expect(translate(p, '+32 (0)2 123 45 67', 'outgoing').result).toBe('0021234567');
  });

  it('a placeholder right after $n is not read as more digits of the group number', () => {
    const p = compile({ outgoing: [rule('[9(\\d)]', '$1[-CountryCode-]')] });
    expect(translate(p, '9512345', 'outgoing').result).toBe('53312345');
  });
});

describe('steps', () => {
  it('are recorded only when asked, and end with the result', () => {
    const p = compile({ preset: 'fr' });
    expect(translate(p, '+44 20 7946 0958', 'outgoing').steps).toBeUndefined();
    const t = translate(p, '01 23 45 67 89', 'outgoing', { steps: true });
    expect(t.steps?.map((s) => s.step)).toEqual(['clean-up', 'no-rule', 'external-prefix']);
    expect(t.steps?.at(-1)?.number).toBe(t.result);
  });
});
