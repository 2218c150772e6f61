/**
 * Which resources belong to one company's configuration: the scope of `export --company` and
 * of a plan of that export. Pure.
 *
 * A resource of a company (its Company, its domains and everything under them) belongs to it.
 * An AdminAccount belongs to a company when it administers that company only: a super user,
 * an administrator of several companies or of none is server-wide and belongs to no one
 * company's configuration (it is exported, and planned, only with the whole server).
 */
import type { KindName } from './kinds.js';

/** The file `export --company` writes at the top of its output, naming the company it holds. */
export const COMPANY_SCOPE_FILE = '.switchboard-company';

export function belongsToCompany(r: { readonly kind: KindName; readonly id: string; readonly body: unknown }, company: string): boolean {
  if (r.kind === 'Company') return r.id === company;
  if (r.kind === 'AdminAccount') {
    const b = (r.body ?? {}) as { superUser?: unknown; companies?: unknown };
    return b.superUser !== true && Array.isArray(b.companies) && b.companies.length > 0 && b.companies.every((c) => c === company);
  }
  const i = r.id.indexOf('/');
  return (i < 0 ? r.id : r.id.slice(0, i)) === company;
}
