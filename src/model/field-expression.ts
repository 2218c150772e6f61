/**
 * The syntax of a directory field expression (manual §8.1), shared by `validate` (which reports
 * a bad expression at its YAML node) and the directory synchronization (src/sync/directory.ts,
 * which compiles the `p:` regular expression and applies the options). Pure.
 *
 *   `sourceField|options`, options comma-separated:
 *   a  postal address      h  hash      i  invisible in the Caller
 *   l  lower case          u  upper case      m  first letter upper case, the rest lower
 *   p:PREFIX{0}SUFFIX::REGEX  rewrite — last, as its text may hold commas
 */
import { BoundedRegexError, compileBoundedRegex } from '../dialplan/index.js';

/** The longest field expression, and the longest `p:` regular expression, in characters. */
export const FIELD_EXPRESSION_MAX_LENGTH = 1024;
export const FIELD_PATTERN_MAX_LENGTH = 512;

export interface FieldExpressionSyntax {
  readonly source: string;
  readonly address: boolean;
  readonly hash: boolean;
  readonly invisible: boolean;
  readonly case?: 'lower' | 'upper' | 'mixed';
  /** `p:` — the template, and the regular expression's source text when there is one. */
  readonly rewrite?: { readonly template: string; readonly pattern?: string };
}

/** A field expression that does not parse; `reason` says why and what is allowed. */
export class FieldExpressionSyntaxError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'FieldExpressionSyntaxError';
  }
}

/** Split `Field|h,u,p:9{0}::^[0-9]{4}$` into its parts; throws {@link FieldExpressionSyntaxError}. */
export function parseFieldExpressionSyntax(expression: string): FieldExpressionSyntax {
  if (expression.length > FIELD_EXPRESSION_MAX_LENGTH) throw new FieldExpressionSyntaxError(`longer than ${FIELD_EXPRESSION_MAX_LENGTH} characters`);
  const bar = expression.indexOf('|');
  const source = (bar < 0 ? expression : expression.slice(0, bar)).trim();
  if (source === '') throw new FieldExpressionSyntaxError('no source field before |');
  const out: { source: string; address: boolean; hash: boolean; invisible: boolean; case?: FieldExpressionSyntax['case']; rewrite?: FieldExpressionSyntax['rewrite'] } = { source, address: false, hash: false, invisible: false };
  if (bar < 0) return out;
  let rest = expression.slice(bar + 1);
  while (rest !== '') {
    if (rest.startsWith('p:')) {
      const body = rest.slice(2);
      const sep = body.indexOf('::');
      const template = sep < 0 ? body : body.slice(0, sep);
      const pattern = sep < 0 ? undefined : body.slice(sep + 2);
      if (pattern !== undefined && pattern.length > FIELD_PATTERN_MAX_LENGTH) throw new FieldExpressionSyntaxError(`the p: regular expression is longer than ${FIELD_PATTERN_MAX_LENGTH} characters`);
      out.rewrite = pattern ? { template, pattern } : { template };
      break;
    }
    const comma = rest.indexOf(',');
    const opt = (comma < 0 ? rest : rest.slice(0, comma)).trim();
    rest = comma < 0 ? '' : rest.slice(comma + 1);
    switch (opt) {
      case 'a':
        out.address = true;
        break;
      case 'h':
        out.hash = true;
        break;
      case 'i':
        out.invisible = true;
        break;
      case 'l':
        out.case = 'lower';
        break;
      case 'u':
        out.case = 'upper';
        break;
      case 'm':
        out.case = 'mixed';
        break;
      default:
        throw new FieldExpressionSyntaxError(`unknown option '${opt}' (a, h, i, l, m, u, or p:PREFIX{0}SUFFIX::REGEX last)`);
    }
  }
  return out;
}

/**
 * Why the `p:` regular expression `pattern` does not compile, or undefined. Compiling only:
 * nothing is matched here. The directory synchronization (`parseFieldExpression` in
 * src/sync/directory.ts) calls this, then runs the pattern on the same bounded matcher as dial
 * plans (src/dialplan/matcher.ts): validate and a run can never disagree.
 */
export function fieldPatternProblem(pattern: string): string | undefined {
  if (pattern.length > FIELD_PATTERN_MAX_LENGTH) return `longer than ${FIELD_PATTERN_MAX_LENGTH} characters`;
  try {
    compileBoundedRegex(pattern);
    return undefined;
  } catch (e) {
    if (!(e instanceof BoundedRegexError)) throw e;
    return e.message.replace(/^not a valid regular expression: /, '');
  }
}
