/**
 * Rules across resources: references, uniqueness, scoping, licences and the product's own
 * constraints (manual sections in brackets). Each rule has a stable id, listed in
 * docs/validation.md; every rule has a passing and a failing test.
 *
 * Reference syntax (docs/format.md): `name` is a resource of the same domain, `domain/name`
 * one of another domain of the same company, `company/domain/name` is only accepted to say
 * precisely that crossing companies is not allowed.
 */
import { error, warning, type NodePath, type PendingDiagnostic } from '../diagnostics.js';
import { fieldRef } from '../config/parse.js';
import type { KindName } from '../model/kinds.js';
import { all, get, type DesiredState, type Resource } from '../model/resource.js';
import { byCapacity, EXTENSION_KINDS, expandNumbers, extensionsOf, supervision } from '../model/extensions.js';
import { applicationUsers } from '../model/licences.js';
import type { KnownIds } from './validate.js';
import { checkDialPlans } from './dialplan-rules.js';
import { checkSyncSources } from './sync-rules.js';
import { closest, SuggestionBudget } from '../util/suggest.js';

type Body = Record<string, unknown>;

/** What a rule needs: the state, and a way to report at a field of a resource. */
export interface RuleContext {
  readonly state: DesiredState;
  readonly known: KnownIds;
  report(d: PendingDiagnostic): void;
  error(code: string, message: string, r: Resource, path: NodePath, key?: boolean): void;
  warning(code: string, message: string, r: Resource, path: NodePath, key?: boolean): void;
}

export function checkRules(state: DesiredState, known: KnownIds, pending: PendingDiagnostic[]): void {
  const ctx: RuleContext = {
    state,
    known,
    report: (d) => pending.push(d),
    error: (code, message, r, path, key) => pending.push(error(code, message, fieldRef(r, path), key)),
    warning: (code, message, r, path, key) => pending.push(warning(code, message, fieldRef(r, path), key)),
  };
  checkScopes(ctx);
  checkGroups(ctx);
  checkDevicesAndLinks(ctx);
  checkExtensions(ctx);
  const authorized = checkAuthorizations(ctx);
  checkLicences(ctx, authorized);
  checkCaller(ctx, authorized);
  checkParameters(ctx);
  checkConnectors(ctx);
  checkImportsAndDirectories(ctx);
  checkAdminAccounts(ctx);
  checkDialPlans(ctx);
  checkSyncSources(ctx);
}

const companyOf = (domainId: string) => {
  const i = domainId.indexOf('/');
  return i < 0 ? domainId : domainId.slice(0, i);
};

// ---------------------------------------------------------------------------------------
// References

export type RefResult = { ok: true; id: string; domain: string } | { ok: false; code: string; message: string };

/**
 * Resolve a reference written in a resource of domain `fromDomain` (`company/domain`) to the
 * id of a resource of `kind`. Reports nothing; the caller decides the severity and place.
 */
export function resolveRef(ctx: RuleContext, kind: KindName, ref: string, fromDomain: string, what: string = kind): RefResult {
  // Hot path (50,000 authorizations): no split/join, just slash positions.
  const s1 = ref.indexOf('/');
  const s2 = s1 < 0 ? -1 : ref.indexOf('/', s1 + 1);
  let id: string;
  let domain: string;
  if (s1 < 0) {
    id = `${fromDomain}/${ref}`;
    domain = fromDomain;
  } else {
    const company = companyOf(fromDomain);
    if (s2 < 0) {
      id = `${company}/${ref}`;
      domain = `${company}/${ref.slice(0, s1)}`;
    } else {
      const refCompany = ref.slice(0, s1);
      if (refCompany !== company) {
        return { ok: false, code: 'scope-company', message: `${what} '${ref}' is in company '${refCompany}': nothing is shared across companies; reference a ${what} of company '${company}'` };
      }
      id = ref;
      domain = ref.slice(0, s2);
    }
  }
  if (!ctx.known.get(kind)!.has(id)) {
    return { ok: false, code: 'unresolved-reference', message: `${what} '${ref}' does not exist (looked for ${kind} '${id}'): declare it or fix the name${suggestIn(ctx, kind, id)}` };
  }
  return { ok: true, id, domain };
}

/** Names known per kind and scope prefix, built once per run (a run may hint thousands of times). */
const namesCache = new WeakMap<KnownIds, Map<string, string[]>>();
/** One budget of hint work per run (see src/util/suggest.ts). */
const budgets = new WeakMap<KnownIds, SuggestionBudget>();

function suggestIn(ctx: RuleContext, kind: KindName, id: string): string {
  const prefix = id.slice(0, id.lastIndexOf('/') + 1);
  let byScope = namesCache.get(ctx.known);
  if (!byScope) namesCache.set(ctx.known, (byScope = new Map()));
  let names = byScope.get(`${kind}\0${prefix}`);
  if (!names) {
    names = [];
    for (const k of ctx.known.get(kind)!.keys()) if (k.startsWith(prefix) && !k.slice(prefix.length).includes('/')) names.push(k.slice(prefix.length));
    byScope.set(`${kind}\0${prefix}`, names);
  }
  let budget = budgets.get(ctx.known);
  if (!budget) budgets.set(ctx.known, (budget = new SuggestionBudget()));
  const best = closest(id.slice(prefix.length), names, budget);
  return best ? `. Did you mean '${best}'?` : '';
}

/** Resolve and report at `path` when unresolved; returns the id or undefined. */
function ref(ctx: RuleContext, r: Resource, path: NodePath, kind: KindName, value: unknown, fromDomain: string, what?: string): RefResult | undefined {
  if (typeof value !== 'string') return undefined;
  const res = resolveRef(ctx, kind, value, fromDomain, what ?? kind);
  if (!res.ok) ctx.error(res.code, res.message, r, path);
  return res;
}

// ---------------------------------------------------------------------------------------
// Scopes: the company / domain a resource lives in must be declared.

function checkScopes(ctx: RuleContext): void {
  const declaredDomains = new Set<string>();
  for (const r of ctx.state.resources) {
    const b = r.body as Body;
    if (typeof b.company === 'string' && !ctx.known.get('Company')!.has(b.company)) {
      ctx.error('unresolved-reference', `company '${b.company}' is not declared: add a Company named '${b.company}'${suggestIn(ctx, 'Company', b.company)}`, r, ['company']);
    }
    if (typeof b.domain === 'string' && r.kind !== 'ApplicationParameter' && !declaredDomains.has(b.domain)) {
      const c = companyOf(b.domain);
      if (!ctx.known.get('Company')!.has(c)) {
        ctx.error('unresolved-reference', `company '${c}' of domain '${b.domain}' is not declared: add a Company named '${c}'${suggestIn(ctx, 'Company', c)}`, r, ['domain']);
      } else if (!ctx.known.get('Domain')!.has(b.domain)) {
        ctx.error('unresolved-reference', `domain '${b.domain}' is not declared: add a Domain with company '${c}' and name '${b.domain.slice(c.length + 1)}'${suggestIn(ctx, 'Domain', b.domain)}`, r, ['domain']);
      } else declaredDomains.add(b.domain);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Groups

function checkGroups(ctx: RuleContext): void {
  for (const g of all(ctx.state, 'Group')) {
    const b = g.body as Body;
    const members = Array.isArray(b.members) ? b.members : [];
    members.forEach((m, i) => ref(ctx, g, ['members', i], 'User', m, b.domain as string, 'user'));
  }
}

/** Member user ids of a group id (unresolved members skipped). */
function groupMembers(ctx: RuleContext, groupId: string): string[] {
  const g = get(ctx.state, 'Group', groupId);
  if (!g) return [];
  const b = g.body as Body;
  const out: string[] = [];
  for (const m of Array.isArray(b.members) ? b.members : []) {
    if (typeof m !== 'string') continue;
    const res = resolveRef(ctx, 'User', m, b.domain as string);
    if (res.ok) out.push(res.id);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Devices, PBX links, SIP connections, bots

function devicesOf(r: Resource): Body[] {
  const d = (r.body as Body).devices;
  return Array.isArray(d) ? (d.filter((x) => x && typeof x === 'object') as Body[]) : [];
}

function checkDevicesAndLinks(ctx: RuleContext): void {
  const sipPerDomain = new Map<string, Resource>();
  for (const l of all(ctx.state, 'PbxLink')) {
    const b = l.body as Body;
    if (b.protocol === 'vtixml' && b.port !== undefined && b.port !== 3199) {
      ctx.warning('vtixml-port', `VTI-XML link uses port ${String(b.port)}; the manual says never to change the default 3199 (§3.3.3): remove the port (or set 3199) unless the PBX really listens elsewhere`, l, ['port']);
    }
    if (b.protocol === 'csta') {
      const name = String(b.name);
      if (b.ip === undefined && !(typeof b.pbxType === 'string' && /device/i.test(b.pbxType))) {
        ctx.error('csta-link-ip', `CSTA link '${name}' has no ip: the server connects to the PBX at ip:port, so give the PBX's address (only snom DEVICE links, where the phones connect to the server, go without)`, l, ['port']);
      }
      if ((b.username === undefined) !== (b.password === undefined)) {
        const [has, lacks] = b.username === undefined ? ['password', 'username'] : ['username', 'password'];
        ctx.error('csta-credentials', `CSTA link '${name}' has a ${has} but no ${lacks}: the application session sends both; give both, or neither for a PBX that asks for none`, l, [has]);
      }
    }
    if (b.protocol === 'sip') {
      const first = sipPerDomain.get(b.domain as string);
      if (first) {
        ctx.report({
          ...error('sip-link-per-domain', `domain '${String(b.domain)}' already has a SIP connection ('${String((first.body as Body).name)}'); a domain has at most one (§9.5.1): put this PBX in another domain`, fieldRef(l, ['protocol'])),
          related: { label: 'first SIP connection', at: first.source },
        });
      } else sipPerDomain.set(b.domain as string, l);
    }
  }
  for (const u of all(ctx.state, 'User')) {
    const domain = (u.body as Body).domain as string;
    devicesOf(u).forEach((d, i) => {
      if (typeof d.link !== 'string') return;
      const res = ref(ctx, u, ['devices', i, 'link'], 'PbxLink', d.link, domain, 'PBX link');
      if (res?.ok) {
        if (res.domain !== domain) {
          ctx.error('scope-domain', `device ${String(d.number)} uses PBX link '${d.link}' of domain '${res.domain}': a device is supervised by a link of its own domain; use a link of domain '${domain}' (declare one if needed), or declare the user in domain '${res.domain}'`, u, ['devices', i, 'link']);
          return;
        }
        const link = get(ctx.state, 'PbxLink', res.id);
        const lp = link ? (link.body as Body).protocol : undefined;
        const expected: Record<string, string> = { csta: 'CSTA', vtixml: 'VTI-XML', sip: 'SIP' };
        if (typeof lp === 'string' && typeof d.protocol === 'string' && expected[lp] && expected[lp] !== d.protocol) {
          ctx.error('device-link-protocol', `device ${String(d.number)} has protocol ${d.protocol} but PBX link '${d.link}' speaks ${expected[lp]}: change the device's protocol or its link`, u, ['devices', i, 'protocol']);
        }
      }
    });
  }
  checkCapacity(ctx);
  checkSoftphoneNumbers(ctx);
  const smsPerDomain = new Map<string, Resource>();
  for (const s of all(ctx.state, 'SmsProvider')) {
    const b = s.body as Body;
    const first = smsPerDomain.get(b.domain as string);
    if (!first) {
      smsPerDomain.set(b.domain as string, s);
      continue;
    }
    ctx.report({
      ...error('sms-provider-per-domain', `domain '${String(b.domain)}' already has an SMS provider ('${String((first.body as Body).name)}'); the server works with a single SMS provider (§9.1.9): keep one of them, or move this one to another domain`, fieldRef(s, ['name'])),
      related: { label: 'first SMS provider', at: first.source },
    });
  }
  for (const bot of all(ctx.state, 'BotGroup')) {
    const domain = (bot.body as Body).domain as string;
    if (!sipPerDomain.has(domain)) {
      ctx.error('bot-needs-sip', `bot group '${String((bot.body as Body).name)}' needs the SIP connection of domain '${domain}' to register its extensions (§9.5): add a PbxLink with protocol sip to that domain`, bot, ['domain']);
    }
  }
}

/**
 * A soft phone's "One Number" (§9.3) makes it an associated device of another extension: that
 * number must be an extension declared in the soft phone's own domain, or the association names
 * a device the server does not know.
 */
function checkSoftphoneNumbers(ctx: RuleContext): void {
  let numbers: Map<string, Set<string>> | undefined; // domain → extensions, built on first need
  const extensionsIn = (domain: string): Set<string> => {
    if (!numbers) {
      numbers = new Map();
      for (const kind of EXTENSION_KINDS) {
        for (const r of all(ctx.state, kind)) {
          const d = (r.body as Body).domain as string;
          const set = numbers.get(d) ?? new Set<string>();
          for (const e of extensionsOf(kind, r.body as Body)) set.add(e.number);
          numbers.set(d, set);
        }
      }
    }
    return numbers.get(domain) ?? new Set();
  };
  for (const u of all(ctx.state, 'User')) {
    const domain = (u.body as Body).domain as string;
    devicesOf(u).forEach((d, i) => {
      const sp = d.softphone as Body | undefined;
      const n = sp && typeof sp === 'object' ? sp.associatedNumber : undefined;
      if (typeof n !== 'string' || extensionsIn(domain).has(n)) return;
      ctx.error('softphone-number-unknown', `soft phone ${String(d.number)} of user '${u.id}' is associated with ${n} ("One Number", §9.3), which is no extension of domain '${domain}': give the number of a device declared in that domain, or remove associatedNumber`, u, ['devices', i, 'softphone', 'associatedNumber']);
    });
  }
}

/** A link carrying more extensions than its capacity: the highest numbers will not be supervised. */
function checkCapacity(ctx: RuleContext): void {
  const links = all(ctx.state, 'PbxLink').filter((l) => typeof (l.body as Body).capacity === 'number');
  if (links.length === 0) return;
  const model = supervision(EXTENSION_KINDS.flatMap((k) => all(ctx.state, k)));
  for (const l of links) {
    const capacity = (l.body as Body).capacity as number;
    const carried = model.byLink.get(l.id) ?? [];
    if (carried.length <= capacity) continue;
    const left = byCapacity(carried, capacity).over;
    ctx.warning(
      'link-capacity',
      `PBX link '${String((l.body as Body).name)}' carries ${carried.length} extensions but its capacity is ${capacity}: ${left.length} will not be supervised (${left.length === 1 ? left[0] : `${left[0]} … ${left.at(-1)}`}, the highest numbers); raise capacity, or put devices on another link`,
      l,
      ['capacity'],
    );
  }
}

// ---------------------------------------------------------------------------------------
// Extension numbers: unique within a company across users, intercom groups, call queues, bots.

interface ExtensionUse {
  readonly r: Resource;
  readonly path: NodePath;
  readonly what: string;
}

/** `first`, `first+1`, … `count` numbers, keeping leading zeros; undefined if not numeric. */
function checkExtensions(ctx: RuleContext): void {
  const used = new Map<string, ExtensionUse>(); // `${company}\0${number}`
  const claim = (r: Resource, path: NodePath, number: string, what: string) => {
    const company = companyOf((r.body as Body).domain as string);
    const key = `${company}\u0000${number}`;
    const first = used.get(key);
    if (first) {
      ctx.report({
        ...error('extension-conflict', `extension ${number} (${what}) is already used by ${first.what} in company '${company}': extension numbers are unique within a company`, fieldRef(r, path)),
        related: { label: 'first used', at: fieldRef(first.r, first.path) },
      });
    } else used.set(key, { r, path, what });
  };
  for (const u of all(ctx.state, 'User')) {
    devicesOf(u).forEach((d, i) => {
      if (typeof d.number === 'string') claim(u, ['devices', i, 'number'], d.number, `user ${u.id}`);
    });
  }
  const expanding = (r: Resource, path: NodePath, first: unknown, count: unknown, what: string) => {
    if (typeof first !== 'string') return;
    const n = typeof count === 'number' ? count : 1;
    const numbers = expandNumbers(first, n);
    if (!numbers) {
      ctx.error('extension-count', `${what}: count ${n} needs a numeric first number to expand, found '${first}': write the first number as digits, or list the numbers one by one`, r, path);
      return;
    }
    for (const num of numbers) claim(r, path, num, num === first ? what : `${what}, expanded from ${first} × ${n}`);
  };
  for (const g of all(ctx.state, 'IntercomGroup')) {
    devicesOf(g).forEach((d, i) => expanding(g, ['devices', i, 'number'], d.number, d.count, `intercom group ${g.id}`));
  }
  for (const q of all(ctx.state, 'CallQueue')) {
    const b = q.body as Body;
    if (typeof b.number === 'string') claim(q, ['number'], b.number, `call queue ${q.id}`);
  }
  for (const bot of all(ctx.state, 'BotGroup')) {
    const b = bot.body as Body;
    expanding(bot, ['firstNumber'], b.firstNumber, b.count, `bot group ${bot.id}`);
  }
}

// ---------------------------------------------------------------------------------------
// Authorizations (§7.4)

const OBJECT_KINDS: Record<string, { kind: KindName; sameDomain: boolean; what: string }> = {
  directory: { kind: 'Directory', sameDomain: false, what: 'directory' },
  intercomGroup: { kind: 'IntercomGroup', sameDomain: false, what: 'intercom group' },
  callQueue: { kind: 'CallQueue', sameDomain: true, what: 'call queue' },
  callLog: { kind: 'User', sameDomain: true, what: 'user (call log)' },
  statistics: { kind: 'User', sameDomain: false, what: 'viewer user' },
  recordings: { kind: 'User', sameDomain: false, what: 'viewer user' },
};

const GRANTEE_KINDS: Record<string, { kind: KindName; what: string }> = {
  user: { kind: 'User', what: 'user' },
  group: { kind: 'Group', what: 'group' },
  intercomGroup: { kind: 'IntercomGroup', what: 'intercom group' },
  callQueue: { kind: 'CallQueue', what: 'call queue' },
};

/** The only [key, value] of a one-key mapping (hot path: no intermediate arrays). */
const single = (v: unknown): [string, unknown] | undefined => {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  let found: [string, unknown] | undefined;
  for (const k in v as Body) {
    if (found) return undefined;
    found = [k, (v as Body)[k]];
  }
  return found;
};

/** company → application → (user id → first authorization granting it). */
export type Authorized = Map<string, Map<string, Map<string, Resource>>>;

function checkAuthorizations(ctx: RuleContext): Authorized {
  const authorized: Authorized = new Map();
  for (const a of all(ctx.state, 'Authorization')) {
    const b = a.body as Body;
    const domain = b.domain as string;
    const company = companyOf(domain);
    const obj = single(b.object);
    const grantee = single(b.grantee);
    if (!obj || !grantee) continue;
    const [objType, objValue] = obj;
    const [gType, gValue] = grantee;
    let sameDomainOnly = false;
    if (objType === 'calendar') {
      const subject = single(objValue);
      if (subject) {
        const [sType, sValue] = subject;
        const k = GRANTEE_KINDS[sType];
        if (k) ref(ctx, a, ['object', 'calendar', sType], k.kind, sValue, domain, k.what);
      }
    } else if (OBJECT_KINDS[objType]) {
      const o = OBJECT_KINDS[objType]!;
      const res = ref(ctx, a, ['object', objType], o.kind, objValue, domain, o.what);
      if (res?.ok && o.sameDomain && res.domain !== domain) {
        ctx.error('scope-domain', `${o.what} '${String(objValue)}' is in domain '${res.domain}': a ${objType === 'callQueue' ? 'call queue' : 'call log'} can only be granted within its own domain (§7.4.5–7.4.6); declare this authorization in domain '${res.domain}'`, a, ['object', objType]);
      }
      sameDomainOnly = o.sameDomain;
    }
    const gk = GRANTEE_KINDS[gType];
    if (!gk) continue;
    if ((gType === 'intercomGroup' || gType === 'callQueue') && objType !== 'directory') {
      ctx.error('grantee-not-allowed', `${gType === 'intercomGroup' ? 'an' : 'a'} ${gk.what} can only be granted a directory (§9.1.7, §9.2.2), not ${objType}: grant it to users or groups instead`, a, ['grantee', gType], true);
      continue;
    }
    const res = ref(ctx, a, ['grantee', gType], gk.kind, gValue, domain, gk.what);
    if (!res?.ok) continue;
    if (sameDomainOnly && res.domain !== domain) {
      ctx.error('scope-domain', `${gk.what} '${String(gValue)}' is in domain '${res.domain}': ${objType === 'callQueue' ? 'a call queue' : 'a call log'} is only granted to users and groups of its own domain '${domain}'; grant it to a user or group of domain '${domain}' instead`, a, ['grantee', gType]);
    }
    if (objType === 'application' && typeof objValue === 'string') {
      const users = gType === 'user' ? [res.id] : gType === 'group' ? groupMembers(ctx, res.id) : [];
      let apps = authorized.get(company);
      if (!apps) authorized.set(company, (apps = new Map()));
      let set = apps.get(objValue);
      if (!set) apps.set(objValue, (set = new Map()));
      for (const u of users) if (!set.has(u)) set.set(u, a);
    }
  }
  return authorized;
}

// ---------------------------------------------------------------------------------------
// Licences (§3.3.1–3.3.2, §7.4.1): each authorized user consumes one licence.

function checkLicences(ctx: RuleContext, authorized: Authorized): void {
  const licences = new Map<string, Resource>();
  for (const l of all(ctx.state, 'License')) licences.set(l.id, l);
  // Counted by the function plan and `status licences` use; `authorized` only locates the diagnostic.
  const knownUsers = ctx.known.get('User')!;
  for (const [company, apps] of applicationUsers(ctx.state.resources, (id) => knownUsers.has(id))) {
    for (const [app, users] of apps) {
      if (users.size === 0) continue;
      const licence = licences.get(`${company}/${app}`);
      // A License that failed its schema is reported there; do not add a misleading error.
      if (!licence && ctx.known.get('License')!.has(`${company}/${app}`)) continue;
      const available = licence ? Number((licence.body as Body).available ?? 0) : 0;
      if (users.size <= available) continue;
      const msg = `${users.size} distinct user${users.size === 1 ? '' : 's'} of company '${company}' are authorized for ${app} (groups expanded), but ${licence ? `the licence allows ${available}` : 'no License for it is declared'}: raise 'available' or authorize fewer users`;
      if (licence) ctx.error('license-exceeded', msg, licence, ['available']);
      else {
        const first = authorized.get(company)?.get(app)?.values().next().value ?? all(ctx.state, 'Authorization').find((a) => (a.body as Body).domain !== undefined && companyOf((a.body as Body).domain as string) === company && ((a.body as Body).object as Body | undefined)?.application === app)!;
        ctx.error('license-exceeded', msg, first, ['object', 'application']);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// Users who cannot start the Caller (§10.8.1) and soft phones without their licence.

function checkCaller(ctx: RuleContext, authorized: Authorized): void {
  for (const u of all(ctx.state, 'User')) {
    const company = companyOf((u.body as Body).domain as string);
    const apps = authorized.get(company);
    const caller = apps?.get('Caller')?.has(u.id) ?? false;
    const devices = devicesOf(u);
    if (caller && devices.length === 0) {
      ctx.warning('caller-unavailable', `user '${u.id}' is authorized for the Caller but has no extension: they cannot start it (§10.8.1); add a device`, u, ['username']);
    } else if (!caller && devices.length > 0 && (apps?.get('Caller')?.size ?? 0) > 0) {
      ctx.warning('caller-unavailable', `user '${u.id}' has extension ${String(devices[0]!.number)} but no Caller authorization: they cannot start the Caller (§10.8.1); authorize the user or one of their groups`, u, ['username']);
    }
    devices.forEach((d, i) => {
      if (d.softphone && typeof d.softphone === 'object' && !(apps?.get('Softphone')?.has(u.id) ?? false)) {
        ctx.warning('softphone-unauthorized', `device ${String(d.number)} is a soft phone but user '${u.id}' has no Softphone authorization (licensed): authorize the user or one of their groups`, u, ['devices', i, 'softphone'], true);
      }
    });
  }
}

// ---------------------------------------------------------------------------------------
// Application parameters (§6.1, §9.1, §10.2)

const TIME_PARAMETERS = new Set(['timeSynchronizationDirectories', 'CallLog-StartCleaningHour', 'Stats-StartCleaningHour']);
const HHMM = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;

function checkParameters(ctx: RuleContext): void {
  const parameters = all(ctx.state, 'ApplicationParameter');
  if (parameters.length === 0) return;
  const userGroups = new Map<string, string[]>();
  for (const g of all(ctx.state, 'Group')) for (const m of groupMembers(ctx, g.id)) (userGroups.get(m) ?? userGroups.set(m, []).get(m)!).push(g.id);
  for (const p of parameters) {
    const b = p.body as Body;
    const company = b.company as string;
    const name = String(b.name);
    const overrides = Array.isArray(b.overrides) ? (b.overrides as Body[]) : [];
    // Each value with the domain it applies in (undefined for the company-wide default).
    const values: { value: unknown; path: NodePath; domain?: string }[] = [];
    if (b.default !== undefined) values.push({ value: b.default, path: ['default'] });
    const groupValues = new Map<string, { value: unknown; index: number }>();
    overrides.forEach((o, i) => {
      if (!o || typeof o !== 'object') return;
      const scoped = typeof o.domain === 'string' ? o.domain : typeof o.group === 'string' ? o.group.split('/')[0] : typeof o.user === 'string' ? o.user.split('/')[0] : undefined;
      values.push({ value: o.value, path: ['overrides', i, 'value'], ...(scoped ? { domain: `${company}/${scoped}` } : {}) });
      if (typeof o.domain === 'string' && !ctx.known.get('Domain')!.has(`${company}/${o.domain}`)) {
        ctx.error('unresolved-reference', `domain '${o.domain}' does not exist in company '${company}': declare it or fix the name${suggestIn(ctx, 'Domain', `${company}/${o.domain}`)}`, p, ['overrides', i, 'domain']);
      }
      for (const [field, kind] of [['group', 'Group'], ['user', 'User']] as const) {
        const v = o[field];
        if (typeof v !== 'string') continue;
        if (v.split('/').length !== 2) {
          ctx.error('unresolved-reference', `${field} override '${v}' must be written 'domain/${field === 'group' ? 'group' : 'username'}' (parameters belong to the company, so the domain is required)`, p, ['overrides', i, field]);
          continue;
        }
        const res = ref(ctx, p, ['overrides', i, field], kind, v, `${company}/-`, field);
        if (res?.ok && field === 'group' && !groupValues.has(res.id)) groupValues.set(res.id, { value: o.value, index: i });
      }
      if (name === 'SupervisionInformationGroup' && (o.group !== undefined || o.user !== undefined)) {
        ctx.error('parameter-level', `SupervisionInformationGroup can only be set as a default or per domain (§9.1.7), not per ${o.group !== undefined ? 'group' : 'user'}`, p, ['overrides', i], false);
      }
    });
    for (const { value, path, domain } of values) {
      if (TIME_PARAMETERS.has(name) && (typeof value !== 'string' || !HHMM.test(value))) {
        ctx.error('parameter-value', `${name} must be a time HH:MM (24-hour), found ${JSON.stringify(value)}: write it quoted, as "07:30"`, p, path);
      }
      if (name === 'AuthorizeShareRulesGroup' && typeof value === 'string' && value !== '') {
        const res = resolveParameterRef(ctx, 'Group', value, company, domain, 'group');
        if (!res.ok) ctx.error(res.code, `AuthorizeShareRulesGroup names ${res.message}`, p, path);
      }
      if (name === 'SupervisionInformationGroup' && typeof value === 'string' && value !== '') {
        const res = resolveParameterRef(ctx, 'IntercomGroup', value, company, domain, 'intercom group');
        if (!res.ok) ctx.error(res.code, `SupervisionInformationGroup names ${res.message}`, p, path);
      }
    }
    // Conflicts between groups: a user in two groups with different values.
    const groups = [...groupValues.entries()];
    if (groups.length < 2) continue;
    const reported = new Set<string>();
    for (const [user, gs] of userGroups) {
      const hits = groups.filter(([g]) => gs.includes(g));
      if (hits.length < 2) continue;
      const distinct = new Set(hits.map(([, v]) => JSON.stringify(v.value)));
      if (distinct.size < 2) continue;
      const [winner, loser] = [hits[0]!, hits.find(([, v]) => JSON.stringify(v.value) !== JSON.stringify(hits[0]![1].value))!];
      const key = `${winner[0]}|${loser[0]}`;
      if (reported.has(key)) continue;
      reported.add(key);
      const count = [...userGroups].filter(([, g2]) => g2.includes(winner[0]) && g2.includes(loser[0])).length;
      ctx.warning(
        'parameter-conflict',
        `${name}: ${count} user(s) (e.g. '${user}') are in groups '${winner[0]}' and '${loser[0]}', which set different values; the override listed first ('${winner[0]}') wins — add a user override to make it explicit`,
        p,
        ['overrides', loser[1].index],
      );
    }
  }
}

/**
 * A parameter value naming a group or intercom group: `domain/name`, or `name` in the domain
 * the value applies to; for the company-wide default, `name` must exist in some domain.
 */
function resolveParameterRef(ctx: RuleContext, kind: KindName, value: string, company: string, domain: string | undefined, what: string): RefResult {
  if (value.includes('/') || domain !== undefined) return resolveRef(ctx, kind, value, domain ?? `${company}/-`, what);
  for (const id of ctx.known.get(kind)!.keys()) if (id.startsWith(`${company}/`) && id.endsWith(`/${value}`) && id.split('/').length === 3) return { ok: true, id, domain: id.slice(0, id.lastIndexOf('/')) };
  return { ok: false, code: 'unresolved-reference', message: `${what} '${value}' does not exist in any domain of company '${company}': declare it or write it 'domain/name'` };
}

// ---------------------------------------------------------------------------------------
// Connectors (seeds 000, 001)

const TEMPLATE_FIELDS = ['busyTemplate', 'outOfOfficeTemplate', 'tentativeTemplate', 'workingElsewhereTemplate'];
const EXCHANGE_ONLINE_FORBIDDEN = /[<&>"']/;

function checkConnectors(ctx: RuleContext): void {
  const byName = new Map<string, Resource>();
  for (const c of all(ctx.state, 'Connector')) {
    const b = c.body as Body;
    const name = String(b.name);
    const first = byName.get(name.toLowerCase());
    if (first) {
      ctx.report({
        ...error('connector-name-conflict', `connector name '${name}' is already used by connector '${first.id}': names are unique among all connectors (they name the service and identify connecting connectors)`, fieldRef(c, ['name'])),
        related: { label: 'first used', at: first.source },
      });
    } else byName.set(name.toLowerCase(), c);
    const params = (b.parameters && typeof b.parameters === 'object' ? b.parameters : {}) as Body;
    for (const f of TEMPLATE_FIELDS) {
      const t = params[f];
      if (typeof t !== 'string' || t === '') continue;
      if (!ctx.known.get('PresenceTemplate')!.has(`${String(b.company)}/${t}`)) {
        ctx.error('unresolved-reference', `presence template '${t}' does not exist in company '${String(b.company)}': declare a PresenceTemplate named '${t}'${suggestIn(ctx, 'PresenceTemplate', `${String(b.company)}/${t}`)}`, c, ['parameters', f]);
      }
    }
    if (b.subtype === 'ExchangeOnline' && params.authentication === 'basic') {
      // Checked on the resolved secret; the message never contains it.
      const pw = params.password;
      if (typeof pw === 'string' && !pw.startsWith('${') && EXCHANGE_ONLINE_FORBIDDEN.test(pw)) {
        ctx.error('exchange-online-password', `the Exchange Online password must not contain < & > " ' (seed 001): change the password`, c, ['parameters', 'password']);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// User imports and directories (§7.2, §8)

function checkImportsAndDirectories(ctx: RuleContext): void {
  for (const i of all(ctx.state, 'UserImport')) {
    const b = i.body as Body;
    if (typeof b.group === 'string') ref(ctx, i, ['group'], 'Group', b.group, b.domain as string, 'group');
  }
}

// ---------------------------------------------------------------------------------------
// Admin accounts (§10.1)

function checkAdminAccounts(ctx: RuleContext): void {
  for (const a of all(ctx.state, 'AdminAccount')) {
    const b = a.body as Body;
    const companies = Array.isArray(b.companies) ? b.companies : [];
    companies.forEach((c, i) => {
      if (typeof c === 'string' && !ctx.known.get('Company')!.has(c)) {
        ctx.error('unresolved-reference', `company '${c}' is not declared: admin '${String(b.username)}' cannot administer it`, a, ['companies', i]);
      }
    });
    if (b.superUser === true && companies.length > 0) {
      ctx.warning('admin-super-user-companies', `admin '${String(b.username)}' is a super user (all companies): the companies list has no effect; remove it`, a, ['companies'], true);
    }
    if (b.superUser !== true && companies.length === 0) {
      ctx.warning('admin-no-company', `admin '${String(b.username)}' is neither a super user nor given any company: they can administer nothing; list their companies, or remove the account`, a, ['username']);
    }
  }
}
