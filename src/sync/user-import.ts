/**
 * The user import (manual §7.2) as a pure function: source entries + the live state → the one
 * change set a run would commit, its counts, and whether it is safe. No I/O: run.ts reads the
 * directory and the live state, calls {@link planUserImport}, and commits (or not).
 *
 * Rules (docs/sync.md):
 * - An import only ever touches users it manages (`manager: import:<name>`). A user of the same
 *   username managed by anyone else (config, the API, another import) is left alone and
 *   reported.
 * - Entries are matched to users by the stable identifier (objectGUID for Active Directory)
 *   through the identifier → username map the previous runs recorded, then by username.
 *   A renamed account (same identifier, new username) is the old user deleted and a new one
 *   created in the same change set.
 * - Entries without a phone number are ignored and counted (the manual's rule), but their
 *   user is still "seen": losing a number never deletes or disables a user.
 * - Active Directory accounts with userAccountControl bit 0x2 are disabled: an existing user is
 *   disabled (`enabled: false`), a new one is not created.
 * - Safety ({@link assessSafety}): zero source entries, or deleting/disabling more than the
 *   threshold share (default 30%) of the managed users, refuses the whole run.
 */
import type { CompiledDialPlan } from '../dialplan/index.js';
import { translate } from '../dialplan/index.js';
import type { Change, LiveResource } from '../runtime/types.js';
import { sameJson } from '../runtime/engines/util.js';
import { clipCodePoints, codePoints, controlCharacter, emailProblem, nameProblem, NAME_MAX_LENGTH, phoneProblem, textProblem, TEXT_MAX_LENGTH, withoutFormatCharacters } from '../model/field-checks.js';
import { attrValues, type LdapEntry } from './ldap.js';

type Body = Readonly<Record<string, unknown>>;

export type SyncMode = 'insertUpdateDelete' | 'insertUpdateDisable' | 'insertUpdate' | 'updateOnly';

/** Source attribute of each user field, after defaults and the AD preset are applied. */
export interface ImportMapping {
  readonly identifier: string;
  readonly username: string;
  readonly lastName: string;
  readonly firstName: string;
  readonly mail: string;
  readonly number: string;
  readonly mobile?: string;
  readonly reserved0?: string;
  readonly reserved1?: string;
  /** Attribute holding userAccountControl (AD preset only): bit 0x2 means disabled. */
  readonly accountControl?: string;
}

/** The manual's LDAP defaults, and the Active Directory preset, under the configured mapping. */
export function resolveMapping(source: string, mapping: Body | undefined): ImportMapping {
  const m = (mapping ?? {}) as Record<string, string | undefined>;
  const ad = source === 'activeDirectory';
  return {
    identifier: m.identifier ?? (ad ? 'objectGUID' : 'entryUUID'),
    username: m.username ?? (ad ? 'sAMAccountName' : 'uid'),
    lastName: m.lastName ?? 'sn',
    firstName: m.firstName ?? 'givenname',
    mail: m.mail ?? 'mail',
    number: m.number ?? 'telephonenumber',
    ...(m.mobile ? { mobile: m.mobile } : {}),
    ...(m.reserved0 ? { reserved0: m.reserved0 } : {}),
    ...(m.reserved1 ? { reserved1: m.reserved1 } : {}),
    ...(ad ? { accountControl: 'userAccountControl' } : {}),
  };
}

/** The attributes a search must return for a mapping; binary ones (objectGUID) separately. */
export function attributesOf(m: ImportMapping): { attributes: string[]; binary: string[] } {
  const attributes = [m.identifier, m.username, m.lastName, m.firstName, m.mail, m.number, m.mobile, m.reserved0, m.reserved1, m.accountControl].filter((a): a is string => !!a);
  return { attributes: [...new Set(attributes)], binary: attributes.filter((a) => a.toLowerCase() === 'objectguid') };
}

/** One source account, mapped. Values are checked (src/model/field-checks.ts): a bad one is absent, and `warnings` says why. */
export interface SourceUser {
  readonly dn: string;
  readonly identifier?: string;
  readonly username?: string;
  readonly firstName?: string;
  readonly lastName?: string;
  readonly mail?: string;
  /** The first number value; `numbers` has them all (a multi-valued attribute). */
  readonly number?: string;
  readonly numbers?: readonly string[];
  readonly mobile?: string;
  readonly reserved0?: string;
  readonly reserved1?: string;
  readonly disabled: boolean;
  /** Fields left out or cut, one message each (`mail "x" is not a valid e-mail address …: left out`), without the DN. */
  readonly warnings: readonly string[];
}

/** A value as a message shows it: quoted, escaped, at most 80 characters. */
export function shown(v: string): string {
  const q = JSON.stringify(v.length > 80 ? `${clipCodePoints(v, 77)}...` : v);
  return q;
}

const USER_FIELDS = ['identifier', 'username', 'firstName', 'lastName', 'mail', 'number', 'mobile', 'reserved0', 'reserved1'] as const;

/**
 * Map entries to source users, checking each value with the rules the runtime applies to a
 * User (one validator for both, src/model/field-checks.ts): a mail that is not an address, a
 * mobile that is not a phone number, a name or reserved field holding control characters,
 * a value that is not valid UTF-8 — each is left out with a warning, and the rest of the
 * entry is imported. Names longer than 128 characters are cut (with a warning). A multi-valued
 * attribute gives its lowest value (sorted: the server's order is no order), except the
 * number (see {@link planUserImport}).
 */
export function sourceUsers(entries: readonly LdapEntry[], m: ImportMapping): SourceUser[] {
  return entries.map((e) => {
    const warnings: string[] = [];
    const t = (field: string, a: string | undefined) => {
      if (!a) return undefined;
      const { text, notText } = attrValues(e, a);
      // Several values: the lowest (an LDAP server returns values in no particular order).
      const v = text.map((x) => x.trim()).filter((x) => x !== '').sort()[0];
      if (v === undefined && notText.length > 0) warnings.push(`${field} (${a}) is not valid UTF-8 text: left out`);
      return v;
    };
    const uac = m.accountControl ? Number(t('userAccountControl', m.accountControl)) : NaN;
    const u: Record<string, unknown> = { dn: e.dn, disabled: Number.isFinite(uac) && (uac & 0x2) !== 0, warnings };
    const numbers = m.number ? attrValues(e, m.number).text.map((x) => x.trim()).filter((x) => x !== '') : [];
    if (numbers.length > 1) u.numbers = numbers;
    for (const f of USER_FIELDS) {
      let v = t(f, m[f]);
      if (v === undefined) continue;
      let problem: string | undefined;
      if (f === 'mail') problem = emailProblem(v);
      else if (f === 'firstName' || f === 'lastName') {
        problem = nameProblem(v);
        if (!problem && codePoints(v) > NAME_MAX_LENGTH) {
          warnings.push(`${f} ${shown(v)} is longer than ${NAME_MAX_LENGTH} characters: cut`);
          v = clipCodePoints(v, NAME_MAX_LENGTH);
        }
      } else if (f === 'mobile') {
        v = withoutFormatCharacters(v).trim();
        problem = phoneProblem(v);
      } else if (f === 'reserved0' || f === 'reserved1') problem = textProblem(v, TEXT_MAX_LENGTH, false);
      if (problem) {
        warnings.push(`${f} ${shown(v)} ${problem}: left out`);
        continue;
      }
      u[f] = v;
    }
    return u as unknown as SourceUser;
  });
}

/** The UserImport resource's settings a plan needs. */
export interface ImportSettings {
  /** `company/domain/name`. */
  readonly id: string;
  readonly domain: string;
  readonly name: string;
  readonly syncMode: SyncMode;
  readonly deviceDefaults: Body;
  readonly group?: string;
  readonly culture?: string;
  /** The domain's compiled dial plan when `adaptNumbersToDialPlan` is set. */
  readonly dialPlan?: CompiledDialPlan;
}

export function importSettings(r: LiveResource, dialPlan: CompiledDialPlan | undefined): ImportSettings {
  const b = r.body;
  return {
    id: r.id,
    domain: String(b.domain),
    name: String(b.name),
    syncMode: (b.syncMode as SyncMode | undefined) ?? 'insertUpdateDelete',
    deviceDefaults: (b.deviceDefaults as Body | undefined) ?? {},
    ...(typeof b.group === 'string' ? { group: b.group } : {}),
    ...(typeof b.culture === 'string' ? { culture: b.culture } : {}),
    ...(b.adaptNumbersToDialPlan === true && dialPlan ? { dialPlan } : {}),
  };
}

/** The manager name of an import: `import:<name>` (unique per domain: the name is the import's). */
export const importManager = (s: { readonly name: string }): `import:${string}` => `import:${s.name}`;

export interface ImportCounts {
  created: number;
  updated: number;
  disabled: number;
  deleted: number;
  ignored: number;
  errors: number;
  unchanged: number;
}

/** One thing a run noticed about an entry or a user (skipped, refused, left alone). */
export interface ImportNote {
  readonly level: 'ignored' | 'error' | 'warning';
  readonly message: string;
}

export interface ImportPlan {
  readonly changes: readonly Change[];
  readonly counts: ImportCounts;
  readonly notes: readonly ImportNote[];
  /** Users this import managed before the run. */
  readonly managed: number;
  readonly sourceEntries: number;
  /** identifier → username after the run (recorded when the change set commits). */
  readonly identifiers: Readonly<Record<string, string>>;
}

const NAME = /^[^/\s][^/]*$/;
const EXTENSION = /^[0-9*#]{1,32}$/;

/** The extension an imported number becomes: the dial plan's incoming translation, or the number without separators. */
export function adaptNumber(raw: string, dialPlan: CompiledDialPlan | undefined): { number?: string; reason?: string } {
  if (dialPlan) {
    const t = translate(dialPlan, raw, 'incoming');
    if (t.result === null) return { reason: `number '${raw}' cannot be adapted to the dial plan: ${t.reason}` };
    return EXTENSION.test(t.result) ? { number: t.result } : { reason: `number '${raw}' becomes '${t.result}' through the dial plan, which is not an extension` };
  }
  const cleaned = raw.replace(/[\s.\-()/]/g, '');
  return EXTENSION.test(cleaned) ? { number: cleaned } : { reason: `number '${raw}' is not an extension (digits, * and # only): set adaptNumbersToDialPlan or map another attribute` };
}

/** Numbers of the company claimed by anything but this import's users (unique within a company). */
function claimedNumbers(company: readonly LiveResource[], manager: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of company) {
    if (r.kind === 'User' && r.manager === manager) continue;
    const b = r.body;
    if (typeof b.number === 'string') out.set(b.number, `${r.kind} ${r.id}`);
    if (Array.isArray(b.devices)) for (const d of b.devices as Body[]) if (typeof d.number === 'string') out.set(d.number, `${r.kind} ${r.id}`);
  }
  return out;
}

/**
 * Plan one run. `company` is the live state of the import's company (users, groups, and
 * everything that holds extension numbers); `known` the identifier → username map of the
 * previous runs.
 */
export function planUserImport(s: ImportSettings, source: readonly SourceUser[], company: readonly LiveResource[], known: Readonly<Record<string, string>>): ImportPlan {
  const manager = importManager(s);
  const counts: ImportCounts = { created: 0, updated: 0, disabled: 0, deleted: 0, ignored: 0, errors: 0, unchanged: 0 };
  const notes: ImportNote[] = [];
  const note = (level: ImportNote['level'], message: string) => {
    notes.push({ level, message });
    if (level === 'ignored') counts.ignored++;
    else if (level === 'error') counts.errors++;
  };
  const users = new Map<string, LiveResource>();
  for (const r of company) if (r.kind === 'User' && r.body.domain === s.domain) users.set(String(r.body.username), r);
  const managed = [...users.values()].filter((u) => u.manager === manager);
  const claimed = claimedNumbers(company, manager);
  const identifiers: Record<string, string> = {};
  const seen = new Set<string>(); // usernames of managed users still in the source
  const taken = new Map<string, string>(); // number → username within this run
  const creates: Change[] = [];
  const updates: Change[] = [];
  const deletes: Change[] = [];
  const created: string[] = [];
  const seenIds = new Set<string>();
  const usernames = new Map<string, string>(); // username → DN of the entry that has it in this run

  for (const e of source) {
    if (!e.identifier) {
      note('error', `${e.dn}: no identifier attribute: skipped`);
      continue;
    }
    if (seenIds.has(e.identifier)) {
      note('error', `${e.dn}: identifier ${e.identifier} appears twice in the source: skipped`);
      continue;
    }
    seenIds.add(e.identifier);
    const badUsername = !e.username ? 'no username attribute' : !NAME.test(e.username) || codePoints(e.username) > 128 || controlCharacter(e.username) ? `username ${shown(e.username)} is not a valid name (1 to 128 characters, no slash, no control character, not starting with a space)` : undefined;
    if (badUsername || !e.username) {
      note('error', `${e.dn}: ${badUsername ?? 'no username attribute'}: skipped`);
      continue;
    }
    // The user this entry was last time (stable identifier), else the same username.
    const previous = known[e.identifier];
    const byPrevious = previous !== undefined ? users.get(previous) : undefined;
    const current = byPrevious && byPrevious.manager === manager ? byPrevious : users.get(e.username);
    if (current && current.manager === manager) seen.add(String(current.body.username));
    // Two entries with one username (LDAP does not forbid it): the first is imported, the
    // second is an error — and its user, if it had one, is kept as it is.
    const twin = usernames.get(e.username);
    if (twin !== undefined) {
      note('error', `${e.dn}: username ${shown(e.username)} is also the username of ${twin}: skipped`);
      if (current && current.manager === manager && current.body.username !== e.username) identifiers[e.identifier] = String(current.body.username);
      continue;
    }
    usernames.set(e.username, e.dn);
    if (!e.number) {
      note('ignored', `${e.dn}: no phone number: ignored`);
      if (current && current.manager === manager) identifiers[e.identifier] = String(current.body.username);
      continue;
    }
    // A multi-valued number: the values that become extensions, the lowest of them (an LDAP
    // server returns values in no particular order, so "the first" would not be stable).
    const adapted = [...new Set(e.numbers ?? [e.number])]
      .map((raw) => adaptNumber(raw, s.dialPlan))
      .sort((a, b) => (a.number === undefined ? 1 : b.number === undefined ? -1 : a.number < b.number ? -1 : a.number > b.number ? 1 : 0))[0]!;
    if (!adapted.number) {
      note('error', `${e.dn}: ${adapted.reason}`);
      if (current && current.manager === manager) identifiers[e.identifier] = String(current.body.username);
      continue;
    }
    const number = adapted.number;
    if (current && current.manager !== manager) {
      note('ignored', `${e.dn}: user '${e.username}' exists and is managed by ${current.manager}: the import never touches it`);
      continue;
    }
    const holder = claimed.get(number) ?? taken.get(number);
    if (holder !== undefined) {
      note('error', `${e.dn}: number ${number} is already used by ${holder}: skipped`);
      if (current) identifiers[e.identifier] = String(current.body.username);
      continue;
    }
    const renamed = current !== undefined && current.body.username !== e.username;
    if (renamed && users.has(e.username)) {
      note('error', `${e.dn}: renamed to '${e.username}', which already exists: skipped`);
      identifiers[e.identifier] = String(current.body.username);
      continue;
    }
    taken.set(number, `user ${s.domain}/${e.username}`);
    const fields = fieldsOf(e, notes);
    if (current && !renamed) {
      identifiers[e.identifier] = e.username;
      const body = updatedBody(current.body, fields, number, e.disabled, s);
      if (sameJson(body, current.body)) counts.unchanged++;
      else {
        updates.push({ action: 'update', kind: 'User', id: current.id, body });
        if (e.disabled && current.body.enabled !== false) counts.disabled++;
        else counts.updated++;
      }
      continue;
    }
    if (s.syncMode === 'updateOnly' && !renamed) {
      note('ignored', `${e.dn}: no user '${e.username}' and the import is updateOnly: not created`);
      continue;
    }
    if (e.disabled && !renamed) {
      note('ignored', `${e.dn}: the account is disabled: not created`);
      continue;
    }
    identifiers[e.identifier] = e.username;
    const body = renamed ? { ...updatedBody(current!.body, fields, number, e.disabled, s), username: e.username } : newBody(s, e.username, fields, number);
    if (renamed) {
      deletes.push({ action: 'delete', kind: 'User', id: current!.id });
      counts.updated++;
    } else {
      counts.created++;
      created.push(e.username);
    }
    creates.push({ action: 'create', kind: 'User', id: `${s.domain}/${e.username}`, body, manager });
  }

  // Managed users that left the source.
  const gone = managed.filter((u) => !seen.has(String(u.body.username)));
  const removed = new Set<string>(deletes.map((d) => d.id));
  for (const u of gone) {
    if (s.syncMode === 'insertUpdateDelete') {
      deletes.push({ action: 'delete', kind: 'User', id: u.id });
      removed.add(u.id);
      counts.deleted++;
    } else if (s.syncMode === 'insertUpdateDisable') {
      if (u.body.enabled === false) counts.unchanged++;
      else {
        updates.push({ action: 'update', kind: 'User', id: u.id, body: { ...u.body, enabled: false } });
        counts.disabled++;
      }
    }
  }

  const groupChanges = planGroup(s, company, manager, created, removed, notes);
  // Deletes first (a renamed user's number is free again), then creates, updates, the group.
  return {
    changes: [...deletes, ...creates, ...updates, ...groupChanges],
    counts,
    notes,
    managed: managed.length,
    sourceEntries: source.length,
    identifiers,
  };
}

interface Fields {
  firstName?: string;
  lastName?: string;
  email?: string;
  mobile?: string;
  reserved0?: string;
  reserved1?: string;
}

/** The user fields of a checked entry; its warnings become notes naming the entry. */
function fieldsOf(e: SourceUser, notes: ImportNote[]): Fields {
  for (const w of e.warnings) notes.push({ level: 'warning', message: `${e.dn}: ${w}` });
  const f: Fields = {};
  if (e.firstName) f.firstName = e.firstName;
  if (e.lastName) f.lastName = e.lastName;
  if (e.mail) f.email = e.mail;
  if (e.mobile) f.mobile = e.mobile;
  if (e.reserved0) f.reserved0 = e.reserved0;
  if (e.reserved1) f.reserved1 = e.reserved1;
  return f;
}

const MAPPED = ['firstName', 'lastName', 'email', 'mobile', 'reserved0', 'reserved1'] as const;

function updatedBody(before: Body, f: Fields, number: string, disabled: boolean, s: ImportSettings): Body {
  const out: Record<string, unknown> = { ...before };
  for (const k of MAPPED) {
    if (f[k] !== undefined) out[k] = f[k];
    else delete out[k];
  }
  const devices = Array.isArray(before.devices) ? (before.devices as Body[]) : [];
  if (devices.length === 0) out.devices = [deviceFor(s, number)];
  else if (devices[0]!.number !== number) out.devices = [{ ...devices[0]!, number }, ...devices.slice(1)];
  if (disabled) out.enabled = false;
  else delete out.enabled;
  return out;
}

/** The device of a created user: deviceDefaults' protocol (CSTA when unset), video, SIP proxy. */
function deviceFor(s: ImportSettings, number: string): Body {
  const d = s.deviceDefaults;
  const protocol = typeof d.protocol === 'string' ? d.protocol : 'CSTA';
  const device: Record<string, unknown> = { number, protocol };
  if (d.video === true) device.video = true;
  if (protocol === 'SIP' && typeof d.sipProxy === 'string') device.softphone = { sipProxy: d.sipProxy };
  return device;
}

function newBody(s: ImportSettings, username: string, f: Fields, number: string): Body {
  const device = deviceFor(s, number);
  return {
    domain: s.domain,
    username,
    ...f,
    ...(s.culture ? { culture: s.culture } : {}),
    devices: [device],
  };
}

/** "Add to a group": the import may create the group (then owns it) or update one it owns; never a group owned by config. */
function planGroup(s: ImportSettings, company: readonly LiveResource[], manager: string, created: readonly string[], removed: ReadonlySet<string>, notes: ImportNote[]): Change[] {
  if (!s.group || s.group.includes('/')) return [];
  const id = `${s.domain}/${s.group}`;
  const group = company.find((r) => r.kind === 'Group' && r.id === id);
  const removedNames = new Set([...removed].map((u) => u.slice(s.domain.length + 1)));
  if (!group) {
    if (created.length === 0) return [];
    return [{ action: 'create', kind: 'Group', id, body: { domain: s.domain, name: s.group, members: [...created].sort() }, manager: manager as `import:${string}` }];
  }
  const members = Array.isArray(group.body.members) ? (group.body.members as string[]) : [];
  const next = [...new Set([...members.filter((m) => !removedNames.has(m)), ...created])].sort();
  if (sameJson(next, [...members].sort())) return [];
  if (group.manager !== manager) {
    if (created.length > 0) notes.push({ level: 'warning', message: `group '${s.group}' is managed by ${group.manager}: the import does not add its users to it (list them there, or let the import create its own group)` });
    return [];
  }
  return [{ action: 'update', kind: 'Group', id, body: { ...group.body, members: next } }];
}

/** Why a plan must not be committed, or undefined when it is safe. */
export function assessSafety(p: ImportPlan, thresholdPercent = 30): string | undefined {
  if (p.sourceEntries === 0) {
    return `the source returned no entries: a filter typo or a directory outage must not empty the import, so nothing was changed (${p.managed} managed users kept). Check the base DN and filter.`;
  }
  const removing = p.counts.deleted + p.counts.disabled;
  if (p.managed > 0 && removing > 0) {
    const share = (100 * removing) / p.managed;
    if (share > thresholdPercent) {
      return `the run would delete or disable ${removing} of the ${p.managed} users it manages (${share.toFixed(1)}%), over the ${thresholdPercent}% threshold: nothing was changed. Check the source; if this is intended, re-run with a higher --max-remove-percent.`;
    }
  }
  return undefined;
}
