/**
 * Number clean-up (manual §5.1) and the "dial string" rules are matched against.
 *
 * Two normal forms of one typed number:
 *   cleaned     — the manual's standard clean-up: every non-digit removed, except a `+`, `#`
 *                 or `*` in first position. `+33 (0) 1 23` → `+330123`.
 *   dial string — the same, but parentheses are kept, so that a rule can recognise the
 *                 optional trunk prefix written `(0)`. `+33 (0) 1 23` → `+33(0)123`.
 * `cleanUp(dialString(x)) === cleanUp(x)` for every x. "First" means the first character that
 * is not white space or an opening parenthesis: `(+33) 1 23` and `+(33) 1 23` are `+33123`.
 * Non-ASCII input is NFKC-normalized first, so full-width digits (`０１２`) count as digits,
 * and invisible format characters (U+202A, U+200E, U+FEFF, …) are removed.
 */

/** Longest dial string the engine translates: a second guard against regex backtracking. */
export const MAX_NUMBER_LENGTH = 64;

const NON_ASCII = /[^\u0000-\u007f]/;
/**
 * Invisible format characters (Unicode category Cf): the directional marks and embeddings
 * Windows and Outlook wrap copied numbers in (U+202A … U+202C, U+200E), a byte-order mark,
 * zero-width spaces and joiners, soft hyphens. Left in, one before `+` makes the `+` not
 * first, so an international number would be dialled as national.
 */
const FORMAT_CHARS = /\p{Cf}/gu;

function prepare(input: string): string {
  return NON_ASCII.test(input) ? input.normalize('NFKC').replace(FORMAT_CHARS, '') : input;
}

function isLeadSymbol(c: number): boolean {
  return c === 43 /* + */ || c === 35 /* # */ || c === 42 /* * */;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/**
 * One pass over the input. Parentheses opened before the first digit wrap a prefix, as in
 * "(+33) 1 23" or "+(33) 1 23": they and their closing parentheses are dropped, and a +, # or *
 * right after them still counts as first. Later parentheses are kept in the dial string.
 */
function normalize(input: string, keepParens: boolean): string {
  const s = prepare(input);
  let i = 0;
  let wrapping = 0; // parentheses opened before the first digit, still to be closed
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 40) wrapping++;
    else if (!isSpace(c)) break;
  }
  let out = '';
  if (i < s.length && isLeadSymbol(s.charCodeAt(i))) {
    out = s[i]!;
    i++;
  }
  let seenDigit = false;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      out += s[i]!;
      seenDigit = true;
    } else if (c === 40) {
      if (!seenDigit) wrapping++;
      else if (keepParens) out += '(';
    } else if (c === 41) {
      if (wrapping > 0) wrapping--;
      else if (keepParens) out += ')';
    }
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
