/**
 * Who is calling, and which companies they may touch.
 *
 * A request's principal comes from its bearer token ({@link TokenStore}) and the live
 * AdminAccount of the token's username, read at every request: a super user may do anything;
 * a company admin may read and change only resources of their companies, and nothing
 * server-wide (AdminAccount, tokens, metrics). Every endpoint goes through these checks; the
 * runtime re-checks change sets itself (`RuntimeCore.apply(changeSet, principal)`).
 */
import { kindInfo, type KindName } from '../model/kinds.js';
import type { Principal, RuntimeCore } from '../runtime/core.js';
import type { Change } from '../runtime/types.js';
import { HttpError } from './errors.js';
import { BUILT_IN_ADMIN, type TokenStore } from './tokens.js';

/** Who a request's token stands for, and the token's public id (what rate limits count by; never the token). */
export interface Authenticated {
  readonly principal: Principal;
  readonly tokenId: string;
}

/** The principal of a request, or a 401 saying why not. */
export function authenticate(authorization: string | undefined, tokens: TokenStore, runtime: RuntimeCore): Authenticated {
  if (!authorization) throw new HttpError(401, 'unauthorized', 'missing bearer token: send "Authorization: Bearer <token>" (the super-admin token is in <data-dir>/admin.token)');
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  if (!m) throw new HttpError(401, 'unauthorized', 'the Authorization header must be "Bearer <token>"');
  const check = tokens.check(m[1]!);
  if (!check.ok) throw new HttpError(401, 'unauthorized', `invalid token: ${check.reason}`);
  const { username, builtIn, id: tokenId } = check.info;
  if (builtIn && username === BUILT_IN_ADMIN) return { principal: { username, superUser: true, companies: [] }, tokenId };
  return { principal: principalOf(username, runtime) ?? fail401(username), tokenId };
}

function fail401(username: string): never {
  throw new HttpError(401, 'unauthorized', `invalid token: administrator '${username}' no longer exists (no AdminAccount with this username)`);
}

/** The principal of an AdminAccount, from the live state; undefined when there is no such account. */
export function principalOf(username: string, runtime: RuntimeCore): Principal | undefined {
  const account = runtime.get('AdminAccount', username);
  if (!account) return undefined;
  const companies = Array.isArray(account.body.companies) ? account.body.companies.filter((c): c is string => typeof c === 'string') : [];
  return { username, superUser: account.body.superUser === true, companies };
}

/** Refuse (403) unless `principal` is a super user. */
export function requireSuperUser(principal: Principal, what: string): void {
  if (!principal.superUser) throw new HttpError(403, 'forbidden', `${what} needs a super user; '${principal.username}' administers ${companyList(principal)} only`);
}

/** Refuse (403) unless `principal` may access `company` (undefined: a server-wide resource, super users only). */
export function requireCompany(runtime: RuntimeCore, principal: Principal, company: string | undefined, what: string): void {
  if (principal.superUser) return;
  if (!runtime.canAccessCompany(principal, company)) {
    const target = company === undefined ? 'server-wide resources' : `company '${company}'`;
    throw new HttpError(403, 'forbidden', `'${principal.username}' may not ${what} ${target}: it administers ${companyList(principal)} only`);
  }
}

export function companyList(principal: Principal): string {
  return principal.companies.length === 0 ? 'no company' : principal.companies.map((c) => `'${c}'`).join(', ');
}

/**
 * The companies a change touches: the company of its id and, for a create or update, the
 * company of the id its body describes (the runtime refuses a body that does not match its id,
 * but tenancy must not depend on that check). `undefined` stands for server-wide.
 */
export function companiesOfChange(runtime: RuntimeCore, change: Change): (string | undefined)[] {
  const out = [runtime.companyOf(change.kind, change.id)];
  if (change.action !== 'delete') {
    const bodyId = idOfBody(change.kind, change.body);
    if (bodyId !== undefined && bodyId !== change.id) out.push(runtime.companyOf(change.kind, bodyId));
  }
  return out;
}

export function idOfBody(kind: KindName, body: Readonly<Record<string, unknown>>): string | undefined {
  try {
    return kindInfo(kind).id(body);
  } catch {
    return undefined;
  }
}
