// unreachableRules, behaviourDiff and SAMPLE_NUMBERS.
import { describe, expect, it } from 'vitest';
import { behaviourDiff, SAMPLE_NUMBERS, translate, unreachableRules } from '../../src/dialplan/index.js';
import type { DialPlanRuleEntry } from '../../src/dialplan/index.js';
import { compile, MANUAL_SETTINGS, rule } from './helpers.js';

function unreachable(outgoing: DialPlanRuleEntry[], preset?: 'fr') {
  return unreachableRules(compile({ outgoing, ...(preset ? { preset } : {}) })).map((u) => [u.rule.priority, u.shadowedBy.priority]);
}

describe('unreachableRules', () => {
  it('the fr preset has none', () => {
    expect(unreachableRules(compile({ preset: 'fr' }))).toEqual([]);
  });

  it.each<[string, DialPlanRuleEntry[], [number, number][]]>([
    ['a longer plain prefix after a shorter one', [rule('06', '1', 1), rule('0612', '2', 2)], [[2, 1]]],
    ['the same plain prefix twice', [rule('06', '1', 1), rule('06', '2', 2)], [[2, 1]]],
    ['a plain prefix after + ', [rule('+', '00', 1), rule('+33', '0', 2)], [[2, 1]]],
    ['a regex whose matches all start with an earlier plain prefix', [rule('+4', '1', 1), rule('[\\+44\\(0\\)]', '2', 2)], [[2, 1]]],
    ['a plain prefix matched by an earlier regex', [rule('[\\+\\d]', '1', 1), rule('+44', '2', 2)], [[2, 1]]],
    ['anything after a regex matching the empty start', [rule('[\\d*]', '1', 1), rule('+', '2', 2), rule('[(\\+|00)44]', '3', 3)], [[2, 1], [3, 1]]],
    ['a regex after a regex that matches its literal start', [rule('[0[67]]', '1', 1), rule('[06(\\d)]', '2', 2)], [[2, 1]]],
    ['each unreachable rule names the first rule that shadows it', [rule('0', '1', 1), rule('06', '2', 2), rule('061', '3', 3)], [[2, 1], [3, 1]]],
  ])('reports %s', (_, rules, expected) => {
    expect(unreachable(rules)).toEqual(expected);
  });

  it.each<[string, DialPlanRuleEntry[]]>([
    ['a shorter prefix after a longer one', [rule('0612', '1', 1), rule('06', '2', 2)]],
    ['different prefixes', [rule('06', '1', 1), rule('07', '2', 2)]],
    ['a regex with an alternation (no certain literal start)', [rule('+', '1', 1), rule('[(\\+|00)44]', '2', 2)]],
    ['a regex with an optional first character', [rule('+', '1', 1), rule('[\\+?44]', '2', 2)]],
    ['an earlier regex with a lookahead (not assertion-free)', [rule('[(?=\\+4)\\+]', '1', 1), rule('+44', '2', 2)]],
    ['an earlier regex with $', [rule('[\\+\\d$]', '1', 1), rule('+4', '2', 2)]],
    ['an earlier regex that needs more than the later literal start', [rule('[\\+44\\d]', '1', 1), rule('+44', '2', 2)]],
    ['a later internal-looking rule is still reachable when the earlier rule is longer', [rule('1123', '1', 1), rule('112', '0112', 2)]],
  ])('does not report %s', (_, rules) => {
    expect(unreachable(rules)).toEqual([]);
  });

  it('points at the YAML entry and appears as a rule-unreachable warning of the compiled plan', () => {
    const plan = compile({ preset: 'fr', outgoing: [rule('+4420', '1', 45)] });
    const [u] = unreachableRules(plan);
    expect(u).toMatchObject({ rule: { priority: 45, source: 'input', index: 0, pattern: '+4420' }, shadowedBy: { priority: 40, source: 'preset' } });
    expect(u!.message).toMatch(/never used.*rule 40/);
    expect(plan.warnings).toEqual([
      expect.objectContaining({ severity: 'warning', code: 'rule-unreachable', path: ['outgoing', 0], priority: 45, index: 0 }),
    ]);
  });

  it('checks incoming rules separately from outgoing ones', () => {
    const plan = compile({ outgoing: [rule('0', '1', 1)], incoming: [rule('06', '1', 1), rule('0', '1', 2)] });
    expect(unreachableRules(plan)).toEqual([]);
    const shadowed = compile({ incoming: [rule('0', '1', 1), rule('06', '1', 2)] });
    expect(unreachableRules(shadowed).map((u) => u.rule.direction)).toEqual(['incoming']);
  });
});

describe('behaviourDiff', () => {
  const before = compile({ preset: 'fr' });
  const sample = SAMPLE_NUMBERS(MANUAL_SETTINGS);

  it('is empty for the same dial plan', () => {
    expect(behaviourDiff(before, compile({ preset: 'fr' }), sample)).toEqual([]);
  });

  it('lists only the numbers whose result changes, with both rules', () => {
    const after = compile({ preset: 'fr', outgoing: [{ priority: 40, pattern: '+', value: '+' }] });
    const diff = behaviourDiff(before, after, [
      { number: '+44 20 7946 0958', direction: 'outgoing' },
      { number: '+33 1 23 45 67 89', direction: 'outgoing' },
      { number: '+1 212 555 0100', direction: 'outgoing' },
    ]);
    expect(diff).toEqual([
      expect.objectContaining({
        number: '+44 20 7946 0958',
        direction: 'outgoing',
        before: '000442079460958',
        after: '+442079460958',
        beforeRule: expect.objectContaining({ priority: 40, source: 'preset' }),
        afterRule: expect.objectContaining({ priority: 40, source: 'input', index: 0 }),
      }),
      expect.objectContaining({ number: '+1 212 555 0100', before: '00012125550100', after: '+12125550100' }),
    ]);
  });

  it('a changed setting shows up on the sample', () => {
    const after = compile({ preset: 'fr', externalPrefix: '9' });
    const diff = behaviourDiff(before, after, sample);
    const national = diff.find((d) => d.number === '01 23 45 67 89');
    expect(national).toMatchObject({ before: '00123456789', after: '90123456789' });
    // internal numbers do not change
    expect(diff.find((d) => d.number === '1234')).toBeUndefined();
  });

  it('a created dial plan (before = null) lists every number it translates', () => {
    const diff = behaviourDiff(null, before, sample);
    const translatable = sample.filter((s) => translate(before, s.number, s.direction).result !== null);
    expect(diff).toHaveLength(translatable.length);
    expect(diff.every((d) => d.before === null && d.beforeReason === 'no dial plan')).toBe(true);
  });

  it('a deleted dial plan (after = null) too', () => {
    expect(behaviourDiff(before, null, sample).every((d) => d.after === null)).toBe(true);
  });
});

describe('SAMPLE_NUMBERS', () => {
  const sample = SAMPLE_NUMBERS(MANUAL_SETTINGS);
  const numbers = sample.map((s) => s.number);

  it('covers internal, national, international, (0), separators, # and * codes, in both directions', () => {
    expect(numbers).toContain('1234');
    expect(numbers.some((n) => /^0[1-9] /.test(n))).toBe(true);
    expect(numbers.some((n) => n.startsWith('+33'))).toBe(true);
    expect(numbers.some((n) => n.includes('(0)'))).toBe(true);
    expect(numbers.some((n) => n.includes('.'))).toBe(true);
    expect(numbers.some((n) => n.includes('-'))).toBe(true);
    expect(numbers.some((n) => n.startsWith('#'))).toBe(true);
    expect(numbers.some((n) => n.startsWith('*'))).toBe(true);
    expect(new Set(sample.map((s) => s.direction))).toEqual(new Set(['outgoing', 'incoming']));
  });

  it('is built from the settings', () => {
    const swiss = SAMPLE_NUMBERS({ countryCode: '41', internationalPrefix: '00', internalLength: 3 }).map((s) => s.number);
    expect(swiss).toContain('+41 1 23 45 67 89');
    expect(swiss).toContain('123');
    expect(swiss).toContain('410');
  });

  it('the fr preset translates every sample it can, as documented in docs/dialplan.md', () => {
    const plan = compile({ preset: 'fr' });
    const table = Object.fromEntries(sample.filter((s) => s.direction === 'outgoing').map((s) => [s.number, translate(plan, s.number, 'outgoing').result]));
    expect(table).toEqual({
      '1234': '1234',
      '3301': '3301',
      '112': '112',
      '3611': '3611',
      '03611': '003611',
      '01 23 45 67 89': '00123456789',
      '06 12 34 56 78': '00612345678',
      '01.23.45.67.89': '00123456789',
      '01-23-45-67-89': '00123456789',
      '+33 1 23 45 67 89': '00123456789',
      '+33 (0) 1 23 45 67 89': '00123456789',
      '+330123456789': '00123456789',
      '00 33 1 23 45 67 89': '00123456789',
      '0033 (0)1 23 45 67 89': '00123456789',
      '33 1 55 17 18 89': '00155171889',
      '+44 20 7946 0958': '000442079460958',
      '+44 (0)20 7946 0958': '000442079460958',
      '+1 212-555-0100': '00012125550100',
      '+39 06 1234 5678': '000390612345678',
      '0049 30 1234567': '00049301234567',
      '+42(0)141906666': '00042141906666',
      '#31#0123456789': '#310123456789',
      '*21*0612345678#': '*210612345678',
      '*8': '*8',
      'poste 12': '12',
    });
  });
});
