// Independent oracle: libphonenumber-js (Google's metadata) reads each generated notation, and
// the fr preset must dial exactly what libphonenumber says the number is:
//   French number  → external prefix 0 + its national format (0X XX XX XX XX) digits
//   foreign number → external prefix 0 + international prefix 00 + E.164 digits
// Numbers are generated with a seeded PRNG, so every run checks the same cases.
// Deliberate differences are asserted at the end and explained in docs/dialplan.md.
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { describe, expect, it } from 'vitest';
import { translate } from '../../src/dialplan/index.js';
import { compile, MANUAL_SETTINGS } from './helpers.js';
import { prng } from '../prng.js';

const random = prng(0x5b0a2d);
const int = (n: number) => Math.floor(random() * n);
const digits = (n: number) => Array.from({ length: n }, () => String(int(10))).join('');
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

const fr = compile({ preset: 'fr' }, MANUAL_SETTINGS);

function expected(text: string): string {
  const p = parsePhoneNumberFromString(text, 'FR');
  if (!p) throw new Error(`libphonenumber cannot parse ${text}`);
  return p.country === 'FR'
    ? '0' + p.formatNational().replace(/\D/g, '')
    : '0' + '00' + p.number.slice(1);
}

// ── French numbers ──

/** Valid French national significant numbers (9 digits, no trunk 0), per libphonenumber. */
function frenchNumbers(count: number): string[] {
  const out: string[] = [];
  while (out.length < count) {
    const nsn = pick(['1', '2', '3', '4', '5', '6', '7', '8', '9']) + digits(8);
    if (parsePhoneNumberFromString('+33' + nsn)?.isValid()) out.push(nsn);
  }
  return out;
}

const pairs = (nsn: string, sep: string) => nsn.slice(1).match(/../g)!.join(sep);

/** The notations people write French numbers in. `n` is the 9-digit NSN. */
const FRENCH_NOTATIONS: Record<string, (n: string) => string> = {
  'E.164': (n) => `+33${n}`,
  'international, spaced': (n) => `+33 ${n[0]} ${pairs(n, ' ')}`,
  'international, (0)': (n) => `+33 (0)${n[0]} ${pairs(n, ' ')}`,
  'international, (0) compact': (n) => `+33(0)${n}`,
  'international, trunk 0 kept': (n) => `+33 0${n[0]} ${pairs(n, ' ')}`,
  'international, parenthesised +33': (n) => `(+33) ${n[0]} ${pairs(n, ' ')}`,
  '0033': (n) => `0033 ${n[0]} ${pairs(n, ' ')}`,
  '0033 compact': (n) => `0033${n}`,
  '0033 (0)': (n) => `0033 (0)${n[0]} ${pairs(n, ' ')}`,
  '00 33 trunk 0 kept': (n) => `00 33 0${n}`,
  '33 without +': (n) => `33 ${n[0]} ${pairs(n, ' ')}`,
  'national, spaced': (n) => `0${n[0]} ${pairs(n, ' ')}`,
  'national, compact': (n) => `0${n}`,
  'national, dots': (n) => `0${n[0]}.${pairs(n, '.')}`,
  'national, dashes': (n) => `0${n[0]}-${pairs(n, '-')}`,
  'national, slashes and tabs': (n) => `\t0${n[0]}/${pairs(n, '/')} `,
};

describe('oracle: French numbers in every notation (libphonenumber-js)', () => {
  const numbers = frenchNumbers(3000);
  const names = Object.keys(FRENCH_NOTATIONS);
  const cases = numbers.map((nsn, i) => {
    const notation = names[i % names.length]!;
    return { nsn, notation, text: FRENCH_NOTATIONS[notation]!(nsn) };
  });

  it('generates valid, varied, deterministic numbers', () => {
    expect(cases).toHaveLength(3000);
    expect(new Set(numbers).size).toBeGreaterThan(2990);
    expect(new Set(numbers.map((n) => n[0]))).toEqual(new Set(['1', '2', '3', '4', '5', '6', '7', '8', '9']));
  });

  it('libphonenumber reads every notation as the generated number', () => {
    const misread = cases.filter(({ nsn, text }) => parsePhoneNumberFromString(text, 'FR')?.number !== '+33' + nsn);
    expect(misread).toEqual([]);
  });

  it('the fr preset dials 0 + the national format, for all 3000', () => {
    const wrong = cases
      .map(({ notation, text }) => ({ notation, text, expected: expected(text), got: translate(fr, text, 'outgoing').result }))
      .filter((c) => c.got !== c.expected);
    expect(wrong).toEqual([]);
  });

  it('and the expectation is the manual’s: 0 0 followed by the 9 digits', () => {
    for (const { nsn, text } of cases.slice(0, 50)) expect(expected(text)).toBe('00' + nsn);
  });
});

// ── foreign numbers ──

/** Plausible national significant numbers per country; only those libphonenumber calls valid are kept. */
const FOREIGN: Record<string, { cc: string; shapes: (() => string)[]; trunkZero: boolean }> = {
  GB: { cc: '44', shapes: [() => '20' + digits(8), () => '74' + digits(8), () => '161' + digits(7)], trunkZero: true },
  DE: { cc: '49', shapes: [() => '30' + digits(8), () => '151' + digits(8), () => '89' + digits(7)], trunkZero: true },
  CH: { cc: '41', shapes: [() => '44' + digits(7), () => '79' + digits(7)], trunkZero: true },
  NL: { cc: '31', shapes: [() => '20' + digits(7), () => '6' + digits(8)], trunkZero: true },
  AT: { cc: '43', shapes: [() => '1' + digits(7), () => '664' + digits(6)], trunkZero: true },
  BE: { cc: '32', shapes: [() => '2' + digits(7), () => '47' + digits(7)], trunkZero: true },
  US: { cc: '1', shapes: [() => pick(['212', '415', '617', '312']) + pick(['2', '3', '4', '5', '6', '7', '8', '9']) + digits(6)], trunkZero: false },
  IT: { cc: '39', shapes: [() => '06' + digits(8), () => '3' + digits(9)], trunkZero: false },
  ES: { cc: '34', shapes: [() => '91' + digits(7), () => '6' + digits(8)], trunkZero: false },
  MA: { cc: '212', shapes: [() => '6' + digits(8), () => '522' + digits(6)], trunkZero: false },
};

const FOREIGN_NOTATIONS: Record<string, (cc: string, n: string, trunkZero: boolean) => string | undefined> = {
  'E.164': (cc, n) => `+${cc}${n}`,
  'international, spaced': (cc, n) => parsePhoneNumberFromString(`+${cc}${n}`)!.formatInternational(),
  'with 00': (cc, n) => `00${cc} ${n}`,
  'with 00, spaced': (cc, n) => `00 ${parsePhoneNumberFromString(`+${cc}${n}`)!.formatInternational().slice(1)}`,
  '(0), where the country has a trunk 0': (cc, n, trunkZero) => (trunkZero ? `+${cc} (0)${n}` : undefined),
  '00 and (0)': (cc, n, trunkZero) => (trunkZero ? `00${cc} (0) ${n}` : undefined),
};

describe('oracle: foreign numbers in international notations (libphonenumber-js)', () => {
  const cases: { country: string; e164: string; notation: string; text: string }[] = [];
  const countries = Object.keys(FOREIGN);
  const notations = Object.keys(FOREIGN_NOTATIONS);
  let i = 0;
  while (cases.length < 1200) {
    const country = countries[i % countries.length]!;
    const { cc, shapes, trunkZero } = FOREIGN[country]!;
    const nsn = pick(shapes)();
    const parsed = parsePhoneNumberFromString(`+${cc}${nsn}`);
    i++;
    if (!parsed?.isValid() || parsed.country !== country) continue;
    const notation = notations[i % notations.length]!;
    const text = FOREIGN_NOTATIONS[notation]!(cc, nsn, trunkZero);
    if (text !== undefined) cases.push({ country, e164: parsed.number, notation, text });
  }

  it('covers every country and notation', () => {
    expect(new Set(cases.map((c) => c.country)).size).toBe(countries.length);
    expect(new Set(cases.map((c) => c.notation)).size).toBe(notations.length);
  });

  it('libphonenumber reads every notation as the generated number', () => {
    expect(cases.filter((c) => parsePhoneNumberFromString(c.text, 'FR')?.number !== c.e164)).toEqual([]);
  });

  it('the fr preset dials 0 + 00 + the E.164 digits, for all 1200', () => {
    const wrong = cases
      .map((c) => ({ ...c, expected: expected(c.text), got: translate(fr, c.text, 'outgoing').result }))
      .filter((c) => c.got !== c.expected);
    expect(wrong).toEqual([]);
    expect(expected('+44 20 7946 0958')).toBe('000442079460958');
  });
});

describe('deliberate differences from libphonenumber (docs/dialplan.md)', () => {
  const oracle = (text: string) => expected(text);
  const engine = (text: string) => translate(fr, text, 'outgoing').result;

  it('rule 30 removes whatever is in parentheses after a country code: a US area code is lost', () => {
    expect(oracle('+1 (212) 555-0100')).toBe('00012125550100');
    expect(engine('+1 (212) 555-0100')).toBe('00015550100');
    // the override documented in docs/dialplan.md restricts rule 30 to "(0)"
    const fixed = compile({
      preset: 'fr',
      outgoing: [{ priority: 30, pattern: '[(\\+|[-InternationalPrefix-])?([^\\(]+)\\(0\\)]', value: '[-ExternalPrefix-][-InternationalPrefix-]$2' }],
    });
    expect(translate(fixed, '+1 (212) 555-0100', 'outgoing').result).toBe(oracle('+1 (212) 555-0100'));
    expect(translate(fixed, '+44 (0) 20 7946 0958', 'outgoing').result).toBe(oracle('+44 (0) 20 7946 0958'));
  });

  it('"(0)" is always dropped, even for Italy, where the 0 belongs to the number', () => {
    expect(oracle('+39 (0)6 1234 5678')).toBe('000390612345678');
    expect(engine('+39 (0)6 1234 5678')).toBe('00039612345678');
  });

  it('an extension is not recognised: its digits are appended (§5.1 clean-up)', () => {
    expect(parsePhoneNumberFromString('+1 212 555 0100 ext. 12', 'FR')?.ext).toBe('12');
    expect(engine('+1 212 555 0100 ext. 12')).toBe('0001212555010012');
  });

  it('national notation always means the installation’s own country', () => {
    // libphonenumber with default country FR agrees; with another default it would not
    expect(engine('(212) 555-0100')).toBe('02125550100');
    expect(parsePhoneNumberFromString('(212) 555-0100', 'US')?.number).toBe('+12125550100');
  });

  it('short numbers are internal numbers, not service numbers', () => {
    expect(engine('112')).toBe('112'); // sent unchanged; libphonenumber knows it as an emergency number
    expect(engine('3611')).toBe('3611');
  });
});
