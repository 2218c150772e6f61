/**
 * Who uses which application: each user authorized for an application — directly, or as a
 * member of an authorized group — consumes one licence of it (§7.4.1). Pure, over any set of
 * resources (desired, live, or live after a plan).
 */
import type { KindName } from './kinds.js';

export interface AnyResource {
  readonly kind: KindName;
  readonly id: string;
  readonly body: Readonly<Record<string, unknown>>;
}

/** `name` in domain `acme/paris` → `acme/paris/name`; `nice/name` → `acme/nice/name`. */
export function qualify(ref: string, fromDomain: string): string {
  const slashes = ref.split('/').length - 1;
  if (slashes === 0) return `${fromDomain}/${ref}`;
  if (slashes === 1) return `${fromDomain.slice(0, fromDomain.indexOf('/'))}/${ref}`;
  return ref;
}

/** company → application → set of user ids. */
export type ApplicationUsers = Map<string, Map<string, Set<string>>>;

/**
 * The one licence count: validate (`license-exceeded`, and so the runtime's refusals), the plan's
 * licence impact and the licence screen all read it. `isUser`, when given, drops references to
 * users that do not exist (validate reports those itself); live states hold none.
 */
export function applicationUsers(resources: Iterable<AnyResource>, isUser?: (id: string) => boolean): ApplicationUsers {
  const members = new Map<string, string[]>();
  const grants: { domain: string; application: string; grantee: Record<string, unknown> }[] = [];
  for (const r of resources) {
    const b = r.body;
    if (r.kind === 'Group' && typeof b.domain === 'string') {
      members.set(r.id, (Array.isArray(b.members) ? b.members : []).filter((m): m is string => typeof m === 'string').map((m) => qualify(m, b.domain as string)));
    } else if (r.kind === 'Authorization' && typeof b.domain === 'string') {
      const object = b.object as Record<string, unknown> | undefined;
      if (object && typeof object.application === 'string' && b.grantee && typeof b.grantee === 'object') {
        grants.push({ domain: b.domain, application: object.application, grantee: b.grantee as Record<string, unknown> });
      }
    }
  }
  const out: ApplicationUsers = new Map();
  for (const g of grants) {
    const company = g.domain.slice(0, g.domain.indexOf('/'));
    const users = typeof g.grantee.user === 'string' ? [qualify(g.grantee.user, g.domain)] : typeof g.grantee.group === 'string' ? (members.get(qualify(g.grantee.group, g.domain)) ?? []) : [];
    let apps = out.get(company);
    if (!apps) out.set(company, (apps = new Map()));
    let set = apps.get(g.application);
    if (!set) apps.set(g.application, (set = new Set()));
    for (const u of users) if (!isUser || isUser(u)) set.add(u);
  }
  return out;
}

/** company/application → available licences. */
export function licencesAvailable(resources: Iterable<AnyResource>): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of resources) if (r.kind === 'License' && typeof r.body.available === 'number') out.set(r.id, r.body.available);
  return out;
}

/**
 * One row of the licence screen (§3.3.2): of an application in a company, how many licences
 * the License gives (`available`, 0 without one), how many distinct users are authorized for it
 * (`used`, counted by {@link applicationUsers}, the count plan and the runtime's refusals use),
 * and `free` = available − used (negative only if use already exceeds the licence).
 */
export interface LicenceStatus {
  readonly company: string;
  readonly application: string;
  readonly available: number;
  readonly used: number;
  readonly free: number;
}

/**
 * The licence screen over a set of resources: one row per License and per application used
 * without one, sorted by company then application. Only what `resources` holds counts: pass
 * one company's resources for that company's screen.
 */
export function licenceStatus(resources: Iterable<AnyResource>): LicenceStatus[] {
  const list = [...resources];
  const used = applicationUsers(list);
  const available = licencesAvailable(list);
  const rows = new Map<string, { company: string; application: string }>();
  for (const r of list) {
    if (r.kind === 'License' && typeof r.body.company === 'string' && typeof r.body.application === 'string') rows.set(r.id, { company: r.body.company, application: r.body.application });
  }
  for (const [company, apps] of used) for (const [application, users] of apps) if (users.size > 0) rows.set(`${company}/${application}`, { company, application });
  return [...rows.values()]
    .sort((a, b) => (a.company < b.company ? -1 : a.company > b.company ? 1 : a.application < b.application ? -1 : a.application > b.application ? 1 : 0))
    .map(({ company, application }) => {
      const a = available.get(`${company}/${application}`) ?? 0;
      const u = used.get(company)?.get(application)?.size ?? 0;
      return { company, application, available: a, used: u, free: a - u };
    });
}
