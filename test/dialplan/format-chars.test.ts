// Numbers copied from Windows and Outlook carry invisible format characters: directional
// embeddings (U+202A … U+202C), marks (U+200E, U+200F), a byte-order mark, zero-width spaces.
// One before `+` used to make the `+` not first: the number was dialled as national.
import { describe, expect, it } from 'vitest';
import { cleanUp, dialString, translate } from '../../src/dialplan/index.js';
import { directoryKey, lookupKey } from '../../src/dialplan/translate.js';
import { compile } from './helpers.js';

const INVISIBLE: readonly [string, string][] = [
  ['LEFT-TO-RIGHT EMBEDDING … POP DIRECTIONAL FORMATTING (Outlook)', '\u202A+33 1 23 45 67 89\u202C'],
  ['LEFT-TO-RIGHT MARK (Windows copy)', '\u200E+33 1 23 45 67 89'],
  ['RIGHT-TO-LEFT MARK', '\u200F+33 1 23 45 67 89'],
  ['BYTE ORDER MARK', '\uFEFF+33 1 23 45 67 89'],
  ['ZERO WIDTH SPACE between digits', '+33\u200B 1 23 45 67 89'],
  ['LEFT-TO-RIGHT ISOLATE … POP DIRECTIONAL ISOLATE', '\u2066+33 1 23 45 67 89\u2069'],
  ['mark between + and the digits', '+\u200E33 1 23 45 67 89'],
  ['NO-BREAK SPACE and NARROW NO-BREAK SPACE as separators', '\u00A0+33\u00A01\u202F23 45 67 89'],
];

describe('invisible format characters in numbers', () => {
  const fr = compile({ preset: 'fr' });
  it.each(INVISIBLE)('%s: the + stays first', (_name, number) => {
    expect(cleanUp(number)).toBe('+33123456789');
    expect(dialString(number)).toBe('+33123456789');
    expect(translate(fr, number, 'outgoing').result).toBe(translate(fr, '+33 1 23 45 67 89', 'outgoing').result);
  });

  it('an international caller is identified whatever wraps the number', () => {
    const key = lookupKey(fr, '+33 1 23 45 67 89');
    expect(key).not.toBeNull();
    for (const [, number] of INVISIBLE) {
      expect(lookupKey(fr, number)).toBe(key);
      expect(directoryKey(fr, number)).toBe(directoryKey(fr, '+33 1 23 45 67 89'));
    }
  });

  it('a foreign number keeps its international form', () => {
    expect(translate(fr, '\u202A+39 123 34477\u202C', 'outgoing').result).toBe('0003912334477');
  });
});
