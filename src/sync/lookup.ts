/**
 * Incoming-number lookup (manual §5, §8): who is calling. Pure: live resources in, matches out.
 *
 * The caller number goes through the domain's incoming dial-plan rules and is cut to its last
 * `inverseLength` digits (`lookupKey`); every stored number is cut the same way
 * (`directoryKey`), and equal keys match. Users of the domain are searched (device numbers,
 * then mobile), then the synchronized contacts (`Contact`, every number of its phone fields,
 * `additionalPhones` included) of the directories the
 * domain sees — its own, and those of other domains of the company granted to one of its users,
 * groups, intercom groups or call queues (§7.4.2; {@link directoriesSeenBy}). Matches are
 * ordered users first (the server's own users, the manual's "TWS users" directory), then
 * contacts by directory priority (lowest first). A red-listed contact number matches, but its
 * number is never shown.
 */
import { directoryKey, lookupKey, type CompiledDialPlan } from '../dialplan/index.js';
import type { LiveResource } from '../runtime/types.js';
import { contactRecordOf } from './directory-run.js';
import { PHONE_FIELDS, phoneNumbers, type ContactRecord } from './directory.js';

export interface LookupMatch {
  readonly kind: 'User' | 'Contact';
  readonly id: string;
  /** Display name: "First Last", else the username (a contact: else its company or identifier). */
  readonly name: string;
  /** Which field matched: `devices[0].number`, `mobile`, a contact's `businessPhone`, … */
  readonly field: string;
  /** The stored number; absent for a red-listed contact number (it identifies the caller, it is never shown). */
  readonly number?: string;
  readonly source: string;
  readonly priority: number;
  /** Contacts: the number is on the red list. */
  readonly redListed?: boolean;
  /** Contacts: a VIP. */
  readonly vip?: boolean;
}

export interface LookupResult {
  readonly input: string;
  /** The key the caller is looked up by; null when the number cannot be translated. */
  readonly key: string | null;
  readonly matches: readonly LookupMatch[];
}

/** A reference as configuration writes it (`name`, or `domain/name` within the company), as an id. */
function qualify(ref: unknown, company: string, domain: string): string | undefined {
  if (typeof ref !== 'string' || ref === '') return undefined;
  return ref.includes('/') ? `${company}/${ref}` : `${domain}/${ref}`;
}

/**
 * The directories (`company/domain/name`) whose contacts identify callers of `domain`: its own,
 * and the directories of other domains of its company granted (an Authorization of the
 * directory) to a user, group, intercom group or call queue of `domain` (§7.4.2).
 */
export function directoriesSeenBy(resources: readonly LiveResource[], domain: string): Set<string> {
  const company = domain.slice(0, domain.indexOf('/'));
  const seen = new Set<string>();
  for (const r of resources) {
    if (r.kind === 'Directory' && r.body.domain === domain) seen.add(r.id);
    if (r.kind !== 'Authorization' || typeof r.body.domain !== 'string') continue;
    const object = r.body.object as Record<string, unknown> | undefined;
    const grantee = r.body.grantee as Record<string, unknown> | undefined;
    const directory = qualify(object?.directory, company, r.body.domain);
    const who = grantee ? Object.values(grantee)[0] : undefined;
    const granteeId = qualify(who, company, r.body.domain);
    if (directory && granteeId && granteeId.startsWith(`${domain}/`)) seen.add(directory);
  }
  return seen;
}

export function lookupCaller(compiled: CompiledDialPlan, resources: readonly LiveResource[], domain: string, number: string): LookupResult {
  const key = lookupKey(compiled, number);
  if (key === null) return { input: number, key, matches: [] };
  const matches: LookupMatch[] = [];
  for (const r of resources) {
    if (r.kind !== 'User' || r.body.domain !== domain) continue;
    const b = r.body;
    const name = [b.firstName, b.lastName].filter((x) => typeof x === 'string' && x !== '').join(' ') || String(b.username);
    const candidates: [string, unknown][] = [];
    if (Array.isArray(b.devices)) (b.devices as Record<string, unknown>[]).forEach((d, i) => candidates.push([`devices[${i}].number`, d.number]));
    candidates.push(['mobile', b.mobile]);
    for (const [field, value] of candidates) {
      if (typeof value !== 'string' || directoryKey(compiled, value) !== key) continue;
      matches.push({ kind: 'User', id: r.id, name, field, number: value, source: r.manager === 'config' ? 'users' : `users (${r.manager})`, priority: 0 });
      break;
    }
  }
  matches.sort((a, b) => a.priority - b.priority || a.id.localeCompare(b.id));
  // Then the synchronized contacts of the directories the domain sees, lowest directory priority first.
  const seen = directoriesSeenBy(resources, domain);
  const contacts = resources.filter((r) => r.kind === 'Contact' && seen.has(`${String(r.body.domain)}/${String(r.body.directory)}`));
  const ids = new Map(contacts.map((r) => [`${String(r.body.domain)}/${String(r.body.directory)}\0${String(r.body.identifier)}`, r.id]));
  const company = domain.slice(0, domain.indexOf('/'));
  for (const m of lookupContacts(compiled, contacts.map(contactRecordOf), number)) {
    // Named as configuration names it: `corp` in the domain, `nice/corp` from another one.
    const directory = m.directory.startsWith(`${domain}/`) ? m.directory.slice(domain.length + 1) : m.directory.slice(company.length + 1);
    matches.push({
      kind: 'Contact',
      id: ids.get(`${m.directory}\0${m.identifier}`) ?? `${m.directory}/${m.identifier}`,
      name: m.name,
      field: m.field,
      ...(m.number !== undefined ? { number: m.number } : {}),
      source: `directory ${directory}`,
      priority: m.priority,
      redListed: m.redListed,
      vip: m.vip,
    });
  }
  return { input: number, key, matches };
}

/** A contact that matched a caller; a red-listed number matches but is never shown (`number` absent). */
export interface ContactMatch {
  readonly directory: string;
  readonly identifier: string;
  readonly name: string;
  readonly field: string;
  readonly number?: string;
  readonly redListed: boolean;
  readonly vip: boolean;
  readonly priority: number;
}

/**
 * Synchronized contacts whose phone numbers meet the caller's lookup key, lowest directory
 * priority first (the manual: the directory with the lowest priority is shown).
 */
export function lookupContacts(compiled: CompiledDialPlan, contacts: readonly ContactRecord[], number: string): ContactMatch[] {
  const key = lookupKey(compiled, number);
  if (key === null) return [];
  const out: ContactMatch[] = [];
  for (const c of contacts) {
    // Every number of every phone field: a multi-valued source keeps them all (additionalPhones).
    const value = (field: (typeof PHONE_FIELDS)[number]) => phoneNumbers(c, field).find((v) => directoryKey(compiled, v) === key);
    for (const field of PHONE_FIELDS) {
      const number = value(field);
      if (number === undefined) continue;
      const redListed = c.hidden.includes(field);
      const name = [c.fields.firstName, c.fields.lastName].filter(Boolean).join(' ') || c.fields.company || c.identifier;
      out.push({ directory: c.directory, identifier: c.identifier, name, field, ...(redListed ? {} : { number }), redListed, vip: c.vip, priority: c.priority });
      break;
    }
  }
  return out.sort((a, b) => a.priority - b.priority || a.directory.localeCompare(b.directory));
}
