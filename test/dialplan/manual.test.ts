// The worked examples of the manual (§5, §5.1–5.3) as condensed in DOMAIN.md § DialPlan.
import { describe, expect, it } from 'vitest';
import { translate } from '../../src/dialplan/index.js';
import { compile, rule } from './helpers.js';

describe('manual worked examples (external 0, international 00, country 33, internal length 4)', () => {
  const fr = compile({ preset: 'fr' });

  it.each([
    ['+33 (0) 123456789', '00123456789', 10],
    ['+330123456789', '00123456789', 5],
    ['33155171889', '00155171889', 25],
    ['+3912334477', '0003912334477', 40],
    ['+42(0)141906666', '00042141906666', 30],
  ])('%s → %s (rule %i)', (number, expected, priority) => {
    const t = translate(fr, number, 'outgoing');
    expect(t.result).toBe(expected);
    expect(t.rule?.priority).toBe(priority);
  });

  it('with a rule 03611 → 03611, 03611 stays 03611 (no external prefix added)', () => {
    const plan = compile({ preset: 'fr', outgoing: [rule('03611', '03611', 1)] });
    const t = translate(plan, '03611', 'outgoing');
    expect(t.result).toBe('03611');
    expect(t.externalPrefixAdded).toBe(false);
    expect(t.reason).toMatch(/does not start with "\+", so only the rule is applied/);
    // without that rule, the same number is an external number and gets the prefix
    expect(translate(fr, '03611', 'outgoing').result).toBe('003611');
  });

  it('rule 30 exactly as printed in §5.3, alone, translates +42(0)141906666 and 42 (0) 141906666', () => {
    const plan = compile({
      outgoing: [
        rule('[(\\+|[-InternationalPrefix-])?([^\\(]+)\\([^\\)]+\\)]', '[-ExternalPrefix-][-InternationalPrefix-]$2', 30),
      ],
    });
    expect(translate(plan, '+42(0)141906666', 'outgoing').result).toBe('00042141906666');
    // "La règle traite donc des nombres tels que +42 (0) et 42 (0)"
    expect(translate(plan, '42 (0) 141906666', 'outgoing').result).toBe('00042141906666');
    expect(translate(plan, '0042 (0) 141906666', 'outgoing').result).toBe('00042141906666');
  });

  it('§5: a rule "+" → "00" gives the same +3912334477 → 0 00 3912334477, the external prefix being added "if needed"', () => {
    const plan = compile({ outgoing: [rule('+', '00')] });
    const t = translate(plan, '+3912334477', 'outgoing');
    expect(t.result).toBe('0003912334477');
    expect(t.externalPrefixAdded).toBe(true);
  });

  it('§5: a rule 361 → 361 leaves numbers starting with 361 as they are', () => {
    const plan = compile({ outgoing: [rule('361', '361')] });
    expect(translate(plan, '36123', 'outgoing').result).toBe('36123');
  });

  it('§5.1: +33(0) becomes 00, # and * are not transformed', () => {
    expect(translate(fr, '+33(0)123456789', 'outgoing').result).toBe('00123456789');
    expect(translate(fr, '#123456', 'outgoing').result).toBe('#123456');
    expect(translate(fr, '*123456', 'outgoing').result).toBe('*123456');
  });

  it('§5.1 special case: 0033 and +33 both become the external prefix + the national 0', () => {
    expect(translate(fr, '0033155171889', 'outgoing').result).toBe('00155171889');
    expect(translate(fr, '+33155171889', 'outgoing').result).toBe('00155171889');
  });

  it('§5.2: no rule, longer than the internal length → external prefix; not longer → unchanged', () => {
    const none = compile({});
    expect(translate(none, '0123456789', 'outgoing').result).toBe('00123456789');
    expect(translate(none, '1234', 'outgoing').result).toBe('1234');
  });
});
