// The French preset, rule by rule: each rule is removed in turn to prove which numbers it owns.
import { describe, expect, it } from 'vitest';
import { FR_PRESET, translate } from '../../src/dialplan/index.js';
import { compile } from './helpers.js';

describe('FR_PRESET', () => {
  it('has the manual priorities, in order', () => {
    expect(FR_PRESET.map((r) => r.priority)).toEqual([5, 10, 15, 20, 25, 30, 40, 50, 60]);
  });

  it('values start with [-ExternalPrefix-] except the # and * rules, which are identities', () => {
    for (const r of FR_PRESET) {
      if (r.priority >= 50) expect(r.value).toBe(r.pattern);
      else expect(r.value.startsWith('[-ExternalPrefix-]')).toBe(true);
    }
  });

  it('regex rules are the bracketed ones starting with (\\+|[-InternationalPrefix-]), as on the manual screen', () => {
    const regexes = FR_PRESET.filter((r) => r.pattern.startsWith('['));
    expect(regexes.map((r) => r.priority)).toEqual([10, 20, 30]);
    for (const r of regexes) expect(r.pattern.startsWith('[(\\+|[-InternationalPrefix-])')).toBe(true);
  });

  it('rule 30 is the pattern and value printed in §5.3', () => {
    const r30 = FR_PRESET.find((r) => r.priority === 30)!;
    expect(r30.pattern).toBe('[(\\+|[-InternationalPrefix-])?([^\\(]+)\\([^\\)]+\\)]');
    expect(r30.value).toBe('[-ExternalPrefix-][-InternationalPrefix-]$2');
  });

  it('is frozen', () => {
    expect(Object.isFrozen(FR_PRESET)).toBe(true);
    expect(Object.isFrozen(FR_PRESET[0])).toBe(true);
  });

  const fr = compile({ preset: 'fr' });

  // number, expected with the full preset, the rule that translates it
  const cases: [string, string, number][] = [
    ['+33 0 1 23 45 67 89', '00123456789', 5],
    ['+330612345678', '00612345678', 5],
    ['+33 (0)1 23 45 67 89', '00123456789', 10],
    ['0033 (0)1 23 45 67 89', '00123456789', 10],
    ['+33 1 23 45 67 89', '00123456789', 15],
    ['+33 6 12 34 56 78', '00612345678', 15],
    ['0033 1 23 45 67 89', '00123456789', 20],
    ['0033 0 1 23 45 67 89', '00123456789', 20],
    ['33 1 23 45 67 89', '00123456789', 25],
    ['+44 (0) 20 7946 0958', '000442079460958', 30],
    ['0049 (0)30 1234567', '00049301234567', 30],
    ['+44 20 7946 0958', '000442079460958', 40],
    ['+1 212 555 0100', '00012125550100', 40],
    ['#31#0123456789', '#310123456789', 50],
    ['*21*0612345678#', '*210612345678', 60],
  ];

  it.each(cases)('%s → %s by rule %i', (number, expected, priority) => {
    const t = translate(fr, number, 'outgoing');
    expect(t.result).toBe(expected);
    expect(t.rule?.priority).toBe(priority);
    expect(t.externalPrefixAdded).toBe(false); // every preset value carries its own prefix
  });

  // Each rule removed in turn: which rule (if any) takes the number over, and the result then.
  const withoutRule: [number, string, string, number | undefined][] = [
    [5, '+330123456789', '000123456789', 15], // rule 15 keeps the trunk 0: one 0 too many
    [10, '0033 (0)1 23 45 67 89', '000123456789', 20], // rule 20 takes 0033, the (0) digit stays
    [15, '+33 1 23 45 67 89', '00123456789', 20], // same result: rule 20's \+ branch covers it
    [20, '0033 1 23 45 67 89', '00033123456789', undefined], // no rule: dialled as international
    [25, '33 1 23 45 67 89', '033123456789', undefined], // no rule: external prefix + 33…
    [30, '+44 (0) 20 7946 0958', '0004402079460958', 40], // rule 40: the (0) digit stays
    [40, '+44 20 7946 0958', '+442079460958', undefined], // no rule: sent as is
    [50, '#31#0123456789', '#310123456789', undefined], // no rule: # numbers are sent as cleaned
    [60, '*21*0612345678#', '*210612345678', undefined], // no rule: * numbers are sent as cleaned
  ];

  it.each(withoutRule)('without rule %i, %s → %s (rule %s)', (priority, number, expected, takeover) => {
    const plan = compile({ preset: 'fr', outgoing: [{ priority, remove: true }] });
    const t = translate(plan, number, 'outgoing');
    expect(t.result).toBe(expected);
    expect(t.rule?.priority).toBe(takeover);
  });

  it('follows the settings through its placeholders (external 9, international 011)', () => {
    const plan = compile({ preset: 'fr', externalPrefix: '9', internationalPrefix: '011' });
    expect(translate(plan, '+33 1 23 45 67 89', 'outgoing').result).toBe('90123456789');
    expect(translate(plan, '011 33 1 23 45 67 89', 'outgoing').result).toBe('90123456789');
    expect(translate(plan, '+44 20 7946 0958', 'outgoing').result).toBe('9011442079460958');
    expect(translate(plan, '01 23 45 67 89', 'outgoing').result).toBe('90123456789');
  });
});
