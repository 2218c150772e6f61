/**
 * Number clean-up (manual §5.1) and the "dial string" rules are matched against.
 *
 * Two normal forms of one typed number:
 *   cleaned     — the manual's standard clean-up: every non-digit removed, except a `+`, `#`
 *                 or `*` in first position. `+33 (0) 1 23` → `+330123`.
 *   dial string — the same, but parentheses are kept, so that a rule can recognise the
 *                 optional trunk prefix written `(0)`. `+33 (0) 1 23` → `+33(0)123`.
 * `cleanUp(dialString(x)) === cleanUp(x)` for every x. Leading white space is ignored when
 * deciding what is "first". Non-ASCII input is NFKC-normalized first, so full-width digits
 * (`０１２`) count as digits.
 */

/** Longest dial string the engine translates: a second guard against regex backtracking. */
export const MAX_NUMBER_LENGTH = 64;

const NON_ASCII = /[^\u0000-\u007f]/;

function prepare(input: string): string {
  return NON_ASCII.test(input) ? input.normalize('NFKC') : input;
}

function firstNonSpace(s: string): number {
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    // space, tab, CR, LF, NBSP (after NFKC, NBSP is a space anyway)
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) break;
    i++;
  }
  return i;
}

function isLeadSymbol(c: number): boolean {
  return c === 43 /* + */ || c === 35 /* # */ || c === 42 /* * */;
}

function normalize(input: string, keepParens: boolean): string {
  const s = prepare(input);
  let i = firstNonSpace(s);
  let out = '';
  if (i < s.length && isLeadSymbol(s.charCodeAt(i))) {
    out = s[i]!;
    i++;
  }
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 48 && c <= 57) || (keepParens && (c === 40 || c === 41))) out += s[i]!;
  }
  return out;
}

/** The standard clean-up (§5.1): keep digits, and a `+`, `#` or `*` only in first position. */
export function cleanUp(number: string): string {
  return normalize(number, false);
}

/** The form rules are matched against: the clean-up, but with parentheses kept. */
export function dialString(number: string): string {
  return normalize(number, true);
}

/** Digits of `s` from position `from` on (drops parentheses and a leading symbol). */
export function digitsFrom(s: string, from: number): string {
  let out = '';
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) out += s[i]!;
  }
  return out;
}

/** True when `s` contains at least one ASCII digit. */
export function hasDigit(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) return true;
  }
  return false;
}

/** True when `s` is non-empty and made of ASCII digits only. */
export function isAllDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}
