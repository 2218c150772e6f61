// Incoming caller numbers: remove, add, incoming rules, and the reverse-lookup keys.
import { describe, expect, it } from 'vitest';
import { directoryKey, lookupKey, translate } from '../../src/dialplan/index.js';
import { compile, rule } from './helpers.js';

describe('incoming translation', () => {
  // A PBX that presents external callers with the external prefix 0 in front (manual screen: remove "0")
  const pbx = compile({ preset: 'fr', incomingRemove: '0' });

  it.each([
    ['00123456789', '0123456789', 'national caller presented with the external prefix'],
    ['0000442079460958', '000442079460958', 'foreign caller presented with the external prefix'],
    ['+33123456789', '+33123456789', 'does not start with the removed string: unchanged'],
    ['1234', '1234', 'internal caller: unchanged, remove is not applied'],
    ['0123', '0123', 'internal caller starting with the removed string: unchanged'],
  ])('remove "0": %s → %s (%s)', (number, expected) => {
    expect(translate(pbx, number, 'incoming').result).toBe(expected);
  });

  it('outgoing rules and the external prefix never apply to incoming numbers', () => {
    const t = translate(pbx, '+44 20 7946 0958', 'incoming');
    expect(t.result).toBe('+442079460958');
    expect(t.rule).toBeUndefined();
    expect(t.externalPrefixAdded).toBe(false);
    expect(t.reason).toMatch(/never get the external prefix/);
  });

  it('removes first, then adds', () => {
    const p = compile({ incomingRemove: '0', incomingAdd: '+33' });
    expect(translate(p, '0123456789', 'incoming').result).toBe('+33123456789');
    expect(translate(p, '612345678', 'incoming').result).toBe('+33612345678');
  });

  it('removes only once, only at the start', () => {
    const p = compile({ incomingRemove: '0' });
    expect(translate(p, '000123456789', 'incoming').result).toBe('00123456789');
    expect(translate(p, '10203040', 'incoming').result).toBe('10203040');
  });

  it('then applies the first matching incoming rule, on the number after remove/add', () => {
    const p = compile({
      incomingRemove: '0',
      incoming: [rule('+33', '0', 10), rule('[00(\\d+)]', '+$1', 20)],
    });
    const national = translate(p, '+33 1 23 45 67 89', 'incoming');
    expect(national.result).toBe('0123456789');
    expect(national.rule).toMatchObject({ priority: 10, direction: 'incoming', source: 'input', index: 0 });
    // 0 0044… → remove 0 → 0044… → rule 20 → +44…
    expect(translate(p, '00044 20 7946 0958', 'incoming').result).toBe('+442079460958');
  });

  it('records its steps', () => {
    const p = compile({ incomingRemove: '0', incomingAdd: '9' });
    const t = translate(p, '00123456789', 'incoming', { steps: true });
    expect(t.steps?.map((s) => [s.step, s.number])).toEqual([
      ['clean-up', '00123456789'],
      ['incoming-remove', '0123456789'],
      ['incoming-add', '90123456789'],
      ['no-rule', '90123456789'],
    ]);
  });
});

describe('lookupKey and directoryKey (inverse length)', () => {
  const p = compile({ incomingRemove: '0', inverseLength: 9 });

  it.each([
    ['00123456789', '123456789'],
    ['+33 1 23 45 67 89', '123456789'],
    ['0000442079460958', '079460958'],
    ['1234', '1234'], // shorter than the inverse length: all digits
    ['abc', null],
  ])('lookupKey(%j) = %j', (caller, key) => {
    expect(lookupKey(p, caller)).toBe(key);
  });

  it('meets directoryKey for the same subscriber written in any notation', () => {
    const key = lookupKey(p, '00123456789');
    for (const stored of ['01 23 45 67 89', '+33 1 23 45 67 89', '+33 (0)1 23 45 67 89', '0033 1.23.45.67.89']) {
      expect(directoryKey(p, stored)).toBe(key);
    }
    expect(directoryKey(p, '01 23 45 67 88')).not.toBe(key);
  });

  it('inverse length 0 keeps every digit', () => {
    const all = compile({ inverseLength: 0 });
    expect(lookupKey(all, '+33 1 23 45 67 89')).toBe('33123456789');
  });

  it('inverse length follows the setting', () => {
    const six = compile({ inverseLength: 6 });
    expect(lookupKey(six, '0123456789')).toBe('456789');
  });
});
