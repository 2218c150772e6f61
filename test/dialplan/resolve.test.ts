// Settings precedence, preset overrides and removals, and the problems resolution reports.
import { describe, expect, it } from 'vitest';
import { compileDialPlan, DEFAULT_SETTINGS, FR_PRESET, isCompiled, resolveDialPlan, translate } from '../../src/dialplan/index.js';
import type { DialPlanInput } from '../../src/dialplan/index.js';
import { compile, problems } from './helpers.js';

describe('settings: resource > domain defaults > documented defaults', () => {
  it('takes each setting from the first place that has it', () => {
    const r = resolveDialPlan({ externalPrefix: '9' }, { externalPrefix: '8', internalLength: 5 });
    expect(r.settings).toEqual({ ...DEFAULT_SETTINGS, externalPrefix: '9', internalLength: 5 });
    expect(r.problems).toEqual([]);
  });

  it('an empty string is a value, not a missing setting', () => {
    const r = resolveDialPlan({ externalPrefix: '' }, { externalPrefix: '0' });
    expect(r.settings.externalPrefix).toBe('');
  });

  it('the documented defaults are the manual screen values, incomingRemove excepted', () => {
    expect(DEFAULT_SETTINGS).toEqual({
      internationalPrefix: '00',
      countryCode: '33',
      externalPrefix: '0',
      internalLength: 4,
      inverseLength: 9,
      incomingAdd: '',
      incomingRemove: '',
    });
  });

  it.each([
    [{ internationalPrefix: 0 }, ['internationalPrefix'], /write it in quotes \("0"\)/],
    [{ externalPrefix: '0-' }, ['externalPrefix'], /digits only/],
    [{ countryCode: '+33' }, ['countryCode'], /digits only/],
    [{ incomingAdd: '0+' }, ['incomingAdd'], /one leading \+, # or \*/],
    [{ internalLength: -1 }, ['internalLength'], /between 0 and 64/],
    [{ inverseLength: 2.5 }, ['inverseLength'], /between 0 and 64/],
    [{ internalLength: '4' }, ['internalLength'], /between 0 and 64/],
  ])('%j is refused with setting-invalid at %j', (input, path, message) => {
    const ps = problems(input as unknown as DialPlanInput);
    expect(ps).toHaveLength(1);
    expect(ps[0]).toMatchObject({ severity: 'error', code: 'setting-invalid', path });
    expect(ps[0]!.message).toMatch(message);
  });

  it('says when a bad value comes from the domain', () => {
    const ps = problems({}, { externalPrefix: 'x' });
    expect(ps[0]!.message).toMatch(/inherited from the domain/);
  });

  it('an incomingAdd of + is allowed', () => {
    expect(resolveDialPlan({ incomingAdd: '+' }).problems).toEqual([]);
  });
});

describe('preset and overrides', () => {
  it('no preset: only the resource rules', () => {
    const r = resolveDialPlan({ outgoing: [{ priority: 1, pattern: '+', value: '00' }] });
    expect(r.outgoing.map((x) => x.priority)).toEqual([1]);
    expect(r.preset).toBeUndefined();
  });

  it('preset fr: the nine rules, marked as coming from the preset', () => {
    const r = resolveDialPlan({ preset: 'fr' });
    expect(r.outgoing.map((x) => [x.priority, x.source])).toEqual(FR_PRESET.map((x) => [x.priority, 'preset']));
    expect(r.incoming).toEqual([]);
  });

  it('a rule with a preset priority replaces the preset rule; others are merged and sorted', () => {
    const r = resolveDialPlan({
      preset: 'fr',
      outgoing: [
        { priority: 70, pattern: '1', value: '1' },
        { priority: 40, name: 'SIP trunk takes E.164', pattern: '+', value: '+' },
        { priority: 1, pattern: '3611', value: '3611' },
      ],
    });
    expect(r.outgoing.map((x) => x.priority)).toEqual([1, 5, 10, 15, 20, 25, 30, 40, 50, 60, 70]);
    const r40 = r.outgoing.find((x) => x.priority === 40)!;
    expect(r40).toMatchObject({ source: 'input', index: 1, value: '+', name: 'SIP trunk takes E.164' });
    const c = compile({ preset: 'fr', outgoing: [{ priority: 40, pattern: '+', value: '+' }] });
    expect(translate(c, '+44 20 7946 0958', 'outgoing').result).toBe('+442079460958');
  });

  it('{priority, remove: true} drops the preset rule', () => {
    const r = resolveDialPlan({ preset: 'fr', outgoing: [{ priority: 25, remove: true }, { priority: 30, remove: true }] });
    expect(r.outgoing.map((x) => x.priority)).toEqual([5, 10, 15, 20, 40, 50, 60]);
    expect(r.problems).toEqual([]);
  });

  it('removing a priority the preset does not have is a warning that still compiles', () => {
    const r = resolveDialPlan({ preset: 'fr', outgoing: [{ priority: 99, remove: true }] });
    expect(r.problems).toEqual([
      expect.objectContaining({ severity: 'warning', code: 'remove-nothing', path: ['outgoing', 0], priority: 99 }),
    ]);
    const c = compileDialPlan(r);
    expect(isCompiled(c) && c.warnings.map((w) => w.code)).toEqual(['remove-nothing']);
  });

  it('removing without a preset says so', () => {
    const r = resolveDialPlan({ incoming: [{ priority: 5, remove: true }] });
    expect(r.problems[0]!.message).toMatch(/no preset is used/);
  });

  it('two entries with the same priority are an error pointing at the second', () => {
    const ps = problems({
      preset: 'fr',
      outgoing: [
        { priority: 40, pattern: '+', value: '+' },
        { priority: 40, remove: true },
      ],
    });
    expect(ps).toEqual([
      expect.objectContaining({ code: 'priority-duplicate', path: ['outgoing', 1, 'priority'], index: 1, direction: 'outgoing' }),
    ]);
    expect(ps[0]!.message).toMatch(/already used by outgoing\[0\]/);
  });

  it.each([
    [{ priority: -1, pattern: '1', value: '1' }, 'priority-invalid'],
    [{ priority: 1.5, pattern: '1', value: '1' }, 'priority-invalid'],
    [{ priority: 1, pattern: 1, value: '1' }, 'rule-invalid'],
    [{ priority: 1, pattern: '1' }, 'rule-invalid'],
    [null, 'rule-invalid'],
  ])('a malformed entry %j is %s', (entry, code) => {
    const ps = problems({ incoming: [entry] } as unknown as DialPlanInput);
    expect(ps[0]).toMatchObject({ code, direction: 'incoming', index: 0 });
  });

  it('the fr preset with another country code warns', () => {
    const r = resolveDialPlan({ preset: 'fr', countryCode: '41' });
    expect(r.problems).toEqual([expect.objectContaining({ severity: 'warning', code: 'preset-country-mismatch', path: ['preset'] })]);
  });

  it('an unknown preset is an error', () => {
    const ps = problems({ preset: 'de' } as unknown as DialPlanInput);
    expect(ps[0]).toMatchObject({ code: 'setting-invalid', path: ['preset'] });
  });

  it('the resolved plan is a plain JSON value and does not alias the preset', () => {
    const r = resolveDialPlan({ preset: 'fr' });
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    expect(r.outgoing[0]).not.toBe(FR_PRESET[0]);
  });

  it('does not change its input', () => {
    const input: DialPlanInput = { preset: 'fr', outgoing: [{ priority: 30, remove: true }] };
    const copy = structuredClone(input);
    resolveDialPlan(input, {});
    expect(input).toEqual(copy);
  });
});
