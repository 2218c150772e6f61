/**
 * Checks of the sync sources during validation, so a typo is reported at its YAML node by
 * `validate` (and by the runtime, which runs the same rules on every change set) rather than
 * by the first synchronization, hours later:
 *
 * - the LDAP `connection.filter` of a user import or an LDAP directory parses, within the
 *   bounds a run enforces (src/model/ldap-filter.ts, ldapts' parser — the one a run uses);
 * - each directory field expression parses, and its `p:` regular expression compiles
 *   (src/model/field-expression.ts — the syntax the directory synchronization uses);
 * - LDAP attribute names (an import's mapping, an LDAP directory's field sources and red
 *   list) are attribute descriptions a server can be asked for;
 * - a CSV directory's path stays inside the folder the runtime reads CSV files from.
 */
import { fieldPatternProblem, FieldExpressionSyntaxError, parseFieldExpressionSyntax } from '../model/field-expression.js';
import { csvPathProblem } from '../model/field-checks.js';
import { ldapFilterProblem } from '../model/ldap-filter.js';
import { all, type Resource } from '../model/resource.js';
import type { RuleContext } from './rules.js';

type Body = Record<string, unknown>;

/** An LDAP attribute description (RFC 4512 §2.5): a name or a numeric OID, with `;options`. */
const ATTRIBUTE = /^(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+)(?:;[A-Za-z0-9-]+)*$/;

const shown = (v: string) => JSON.stringify(v.length > 120 ? `${v.slice(0, 117)}...` : v);

function checkFilter(ctx: RuleContext, r: Resource, connection: Body | undefined): void {
  const filter = connection?.filter;
  if (typeof filter !== 'string') return;
  const problem = ldapFilterProblem(filter);
  if (problem === undefined) return;
  ctx.error(
    'ldap-filter-invalid',
    `the LDAP filter ${shown(filter)} is not valid: ${problem}. Write an RFC 4515 filter, e.g. (&(objectClass=user)(telephoneNumber=*)) — or objectClass=user for a single term`,
    r,
    ['connection', 'filter'],
  );
}

function checkAttribute(ctx: RuleContext, r: Resource, path: (string | number)[], name: string, what: string): void {
  if (ATTRIBUTE.test(name)) return;
  ctx.error('ldap-attribute-invalid', `${what} ${shown(name)} is not an LDAP attribute name (letters, digits and hyphens starting with a letter, or a numeric OID; options after ';'): fix the name`, r, path);
}

export function checkSyncSources(ctx: RuleContext): void {
  for (const r of all(ctx.state, 'UserImport')) {
    const b = r.body as Body;
    if (b.source === 'a5000') continue;
    checkFilter(ctx, r, b.connection as Body | undefined);
    for (const [field, attribute] of Object.entries((b.mapping ?? {}) as Body)) {
      if (typeof attribute === 'string') checkAttribute(ctx, r, ['mapping', field], attribute, `mapping.${field}`);
    }
  }
  for (const r of all(ctx.state, 'Directory')) {
    const b = r.body as Body;
    const ldap = b.serverType === 'LDAP';
    if (ldap) checkFilter(ctx, r, b.connection as Body | undefined);
    const csvPath = (b.connection as Body | undefined)?.path;
    if (b.serverType === 'CSV' && typeof csvPath === 'string') {
      const problem = csvPathProblem(csvPath);
      if (problem) ctx.error('csv-path-invalid', `the CSV file ${shown(csvPath)} ${problem}`, r, ['connection', 'path']);
    }
    for (const [field, expression] of Object.entries((b.fields ?? {}) as Body)) {
      if (typeof expression !== 'string') continue;
      let source: string;
      let pattern: string | undefined;
      try {
        const syntax = parseFieldExpressionSyntax(expression);
        source = syntax.source;
        pattern = syntax.rewrite?.pattern;
      } catch (e) {
        const reason = e instanceof FieldExpressionSyntaxError ? e.reason : (e as Error).message;
        ctx.error('field-expression-invalid', `field expression ${shown(expression)} of fields.${field}: ${reason}. Write sourceField|options, e.g. Surname|h,u,p:9{0}::^[0-9]{4}$`, r, ['fields', field]);
        continue;
      }
      const problem = pattern === undefined ? undefined : fieldPatternProblem(pattern);
      if (problem !== undefined) {
        ctx.error(
          'field-expression-regex',
          `the p: regular expression ${shown(pattern!)} of fields.${field} is not valid: ${problem}. Fix it (e.g. ^[0-9]{4}$), or drop ::REGEX to rewrite every value`,
          r,
          ['fields', field],
        );
      }
      if (ldap) checkAttribute(ctx, r, ['fields', field], source, `the source attribute of fields.${field}`);
    }
    if (ldap) {
      for (const [field, attribute] of Object.entries((b.redList ?? {}) as Body)) {
        if (typeof attribute === 'string') checkAttribute(ctx, r, ['redList', field], attribute, `redList.${field}`);
      }
    }
  }
}
