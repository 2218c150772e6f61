// Seeded property tests: arbitrary input never breaks the engine.
import { describe, expect, it } from 'vitest';
import { cleanUp, dialString, lookupKey, MAX_NUMBER_LENGTH, translate } from '../../src/dialplan/index.js';
import { compile } from './helpers.js';
import { prng } from '../prng.js';

const ALPHABET = [...'0123456789', ...'0123456789', ...'+#*()-. /\t', 'x', 'é', '０', '３', '＋', '\u00a0', '$'];
const random = prng(7);
const inputs = Array.from({ length: 5000 }, () => {
  const length = Math.floor(random() * 30);
  return Array.from({ length }, () => ALPHABET[Math.floor(random() * ALPHABET.length)]).join('');
});

describe('properties over 5000 random inputs', () => {
  const fr = compile({ preset: 'fr', incomingRemove: '0', incoming: [{ priority: 1, pattern: '[00(\\d+)]', value: '+$1' }] });

  it('cleanUp(dialString(x)) === cleanUp(x), and both have the documented shape', () => {
    for (const x of inputs) {
      expect(cleanUp(dialString(x))).toBe(cleanUp(x));
      expect(cleanUp(x)).toMatch(/^[+#*]?[0-9]*$/);
      expect(dialString(x)).toMatch(/^[+#*]?[0-9()]*$/);
    }
  });

  it('translate never throws; results are null or dialable, and null exactly when there is nothing to dial', () => {
    for (const x of inputs) {
      for (const direction of ['outgoing', 'incoming'] as const) {
        const t = translate(fr, x, direction);
        expect(t.cleaned).toBe(cleanUp(x));
        if (t.result === null) {
          expect(/[0-9]/.test(t.cleaned) === false || dialString(x).length > MAX_NUMBER_LENGTH).toBe(true);
        } else {
          expect(t.result).toMatch(/^[+#*]?[0-9]+$/);
        }
        expect(t.reason.length).toBeGreaterThan(10);
      }
    }
  });

  it('translations are plain JSON values', () => {
    for (const x of inputs.slice(0, 200)) {
      const t = translate(fr, x, 'outgoing', { steps: true });
      expect(JSON.parse(JSON.stringify(t))).toEqual(t);
    }
  });

  it('translating is deterministic and does not change the compiled plan', () => {
    const before = JSON.stringify(fr); // a BoundedRegex serializes as its source
    const first = inputs.map((x) => translate(fr, x, 'outgoing').result);
    const second = inputs.map((x) => translate(fr, x, 'outgoing').result);
    expect(second).toEqual(first);
    expect(JSON.stringify(fr)).toBe(before);
    expect(before).toContain('"regex":{"source":"(\\\\+|00)33\\\\(0\\\\)","anchored":true}');
  });

  it('lookupKey is digits only, at most inverseLength long', () => {
    for (const x of inputs) {
      const key = lookupKey(fr, x);
      if (key !== null) expect(key).toMatch(/^[0-9]{1,9}$/);
    }
  });
});
