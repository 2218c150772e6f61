/**
 * The LDAP search filter of a user import or directory, checked the same way by `validate`
 * (at the YAML node) and by a run (before any search): with ldapts' own filter parser — the
 * one that encodes the filter for the server, so what validates is what runs — inside bounds
 * (length, nesting) that keep the recursive parser safe. Pure; ldapts is loaded on first use
 * only, so validating a configuration without filters does not pay for the LDAP client.
 */
import { createRequire } from 'node:module';

/** The longest filter, in characters, and the deepest nesting of `(&(|(!…)))`. */
export const LDAP_FILTER_MAX_LENGTH = 16_384;
export const LDAP_FILTER_MAX_DEPTH = 64;

const require = createRequire(import.meta.url);
let parser: typeof import('ldapts').FilterParser | undefined;

/** The configured filter in RFC 4515 form: the manual's `objectClass=user` becomes `(objectClass=user)`; none is `(objectClass=*)`. */
export function normalizeLdapFilter(filter: string | undefined): string {
  const f = (filter ?? '').trim();
  if (f === '') return '(objectClass=*)';
  return f.startsWith('(') ? f : `(${f})`;
}

/** Why the filter (as written, or normalized) is not a valid LDAP filter, or undefined. */
export function ldapFilterProblem(filter: string): string | undefined {
  const f = normalizeLdapFilter(filter);
  if (f.length > LDAP_FILTER_MAX_LENGTH) return `it is longer than ${LDAP_FILTER_MAX_LENGTH} characters`;
  // ldapts stops at the end of the first complete term and recurses per level: check the
  // parentheses and the depth first (an escaped `\(` is a value's character, not structure).
  let depth = 0;
  for (let i = 0; i < f.length; i++) {
    const c = f[i];
    if (c === '\\') i++;
    else if (c === '(') {
      if (++depth > LDAP_FILTER_MAX_DEPTH) return `it nests deeper than ${LDAP_FILTER_MAX_DEPTH} levels`;
    } else if (c === ')') {
      if (--depth < 0) return `unbalanced parentheses: a ')' at character ${i + 1} closes nothing`;
      if (depth === 0 && i < f.length - 1) {
        return f[i + 1] === ')' ? `unbalanced parentheses: a ')' at character ${i + 2} closes nothing` : `text after the end of the filter at character ${i + 2} (combine several terms with (&…) or (|…))`;
      }
    }
  }
  if (depth !== 0) return `unbalanced parentheses: ${depth} '(' never closed (a parenthesis inside a value is written \\28 or \\29)`;
  parser ??= (require('ldapts') as typeof import('ldapts')).FilterParser;
  try {
    parser.parseString(f);
    return undefined;
  } catch (e) {
    return (e as Error).message.replace(/\.? ?Full string: [\s\S]*$/, '');
  }
}
