// "Did you mean …?" hints are bounded by construction (src/util/suggest.ts): user input is on
// both sides, and 2,000 misspelt group members among 20,000 users once took minutes.
import { describe, expect, it } from 'vitest';
import damerauLevenshtein from 'damerau-levenshtein';
import { boundedEditDistance, closest, MAX_SUGGESTED_LENGTH, SuggestionBudget } from '../src/util/suggest.js';
import { header, validateFiles } from './helpers.js';
import { prng } from './prng.js';

describe('boundedEditDistance', () => {
  it('agrees with the damerau-levenshtein package wherever the distance is within the bound', () => {
    const r = prng(7);
    const word = () => Array.from({ length: Math.floor(r() * 10) }, () => 'abcd'[Math.floor(r() * 4)]).join('');
    for (let i = 0; i < 20_000; i++) {
      const a = word();
      const b = word();
      const max = Math.floor(r() * 5);
      const exact = damerauLevenshtein(a, b).steps;
      const bounded = boundedEditDistance(a, b, max);
      if (exact <= max) expect({ a, b, max, d: bounded }).toEqual({ a, b, max, d: exact });
      else expect({ a, b, max, d: bounded }).toEqual({ a, b, max, d: max + 1 });
    }
  });

  it('counts a swap of adjacent letters as one edit', () => {
    expect(boundedEditDistance('alcie', 'alice', 3)).toBe(1);
  });
});

describe('closest', () => {
  it('finds a plausible typo, case-insensitively, and nothing when too far', () => {
    expect(closest('Alcie', ['bruno', 'alice'])).toBe('alice');
    expect(closest('zzzzz', ['alice'])).toBeUndefined();
  });

  it('gives no hint for words over the length limit, whatever the candidates', () => {
    const long = 'a'.repeat(MAX_SUGGESTED_LENGTH + 1);
    expect(closest(long, [long.slice(1)])).toBeUndefined();
  });

  it('spends at most its budget (plus one row), then stops hinting', () => {
    const candidates = Array.from({ length: 10_000 }, (_, i) => `user${String(i).padStart(5, '0')}`);
    const budget = new SuggestionBudget(100_000);
    let hints = 0;
    for (let i = 0; i < 1000; i++) if (closest(`usr${String(i).padStart(5, '0')}x`, candidates, budget)) hints++;
    expect(budget.cells).toBeLessThanOrEqual(0);
    expect(budget.cells).toBeGreaterThan(-2 * MAX_SUGGESTED_LENGTH);
    expect(hints).toBeGreaterThan(0);
    expect(hints).toBeLessThan(1000);
  });
});

describe('validation of many misspelt references', () => {
  it('reports every one, hints the first ones, and stays within one run budget', () => {
    const users = `${header('User')}domain: acme/paris\nitems:\n${Array.from({ length: 20_000 }, (_, i) => `  - username: user${String(i).padStart(5, '0')}\n`).join('')}`;
    const group = `${header('Group')}domain: acme/paris\nname: All\nmembers:\n${Array.from({ length: 2_000 }, (_, i) => `  - usr${String(i).padStart(5, '0')}x\n`).join('')}`;
    const r = validateFiles({
      'c.yaml': `${header('Company')}name: acme\n---\n${header('Domain')}company: acme\nname: paris\n`,
      'u.yaml': users,
      'g.yaml': group,
    });
    const unresolved = r.diagnostics.filter((d) => d.code === 'unresolved-reference');
    expect(unresolved).toHaveLength(2_000);
    expect(unresolved[0]!.message).toContain("Did you mean 'user00000'?");
    const hinted = unresolved.filter((d) => d.message.includes('Did you mean')).length;
    // each lookup compares ~20,000 candidates of 9 letters: the run's budget allows some, not all
    expect(hinted).toBeGreaterThan(10);
    expect(hinted).toBeLessThan(2_000);
  });
});
