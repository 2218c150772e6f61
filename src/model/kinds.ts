/**
 * The resource kinds Switchboard manages: their scope, identity and dependency order.
 *
 * The fields of each kind live in `schemas/<Kind>.schema.json` (the source of truth); this
 * file only adds what a schema cannot say: how a resource's stable id is built from its
 * identity fields, and in which order kinds depend on each other.
 */

export const KIND_NAMES = [
  'Company',
  'AdminAccount',
  'License',
  'Domain',
  'DialPlan',
  'PbxLink',
  'PresenceTemplate',
  'CalendarServer',
  'SmsProvider',
  'Connector',
  'Group',
  'Directory',
  'Contact',
  'UserImport',
  'User',
  'IntercomGroup',
  'CallQueue',
  'BotGroup',
  'Authorization',
  'ApplicationParameter',
] as const;

/** One of the resource kinds, spelled as in YAML `kind:`. */
export type KindName = (typeof KIND_NAMES)[number];

/** Where a kind lives: server-wide, in a company, or in a domain (`company/domain`). */
export type Scope = 'server' | 'company' | 'domain';

export interface KindInfo {
  readonly name: KindName;
  readonly scope: Scope;
  /** Position in dependency order: a kind only references kinds with a lower order. */
  readonly order: number;
  /** The stable id of a resource body, or undefined when its identity fields are unusable. */
  readonly id: (body: Readonly<Record<string, unknown>>) => string | undefined;
  /** The identity fields, for messages ("identified by domain and username"). */
  readonly identity: readonly string[];
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

// Hot path (every resource of a 60,000-resource tree): no rest arguments, no arrays.
function join(a: unknown, b?: unknown, c?: unknown): string | undefined {
  if (typeof a !== 'string' || a === '') return undefined;
  if (b === undefined) return a;
  if (typeof b !== 'string' || b === '') return undefined;
  if (c === undefined) return `${a}/${b}`;
  if (typeof c !== 'string' || c === '') return undefined;
  return `${a}/${b}/${c}`;
}

/** `application:Caller`, `calendar:group:Sales`, … : the single-key object rendered as a word. */
function oneKey(v: unknown): string | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length !== 1) return undefined;
  const [k, val] = entries[0]!;
  if (typeof val === 'string' && val.length > 0) return `${k}:${val}`;
  const inner = oneKey(val);
  return inner === undefined ? undefined : `${k}:${inner}`;
}

const byDomainName = (b: Readonly<Record<string, unknown>>) => join(b.domain, b.name);

const INFO: Record<KindName, Omit<KindInfo, 'name' | 'order'>> = {
  Company: { scope: 'server', identity: ['name'], id: (b) => str(b.name) },
  AdminAccount: { scope: 'server', identity: ['username'], id: (b) => str(b.username) },
  License: { scope: 'company', identity: ['company', 'application'], id: (b) => join(b.company, b.application) },
  Domain: { scope: 'company', identity: ['company', 'name'], id: (b) => join(b.company, b.name) },
  DialPlan: { scope: 'domain', identity: ['domain'], id: (b) => str(b.domain) },
  PbxLink: { scope: 'domain', identity: ['domain', 'name'], id: byDomainName },
  PresenceTemplate: { scope: 'company', identity: ['company', 'name'], id: (b) => join(b.company, b.name) },
  CalendarServer: { scope: 'domain', identity: ['domain', 'name'], id: byDomainName },
  SmsProvider: { scope: 'domain', identity: ['domain', 'name'], id: byDomainName },
  Connector: { scope: 'company', identity: ['company', 'name'], id: (b) => join(b.company, b.name) },
  Group: { scope: 'domain', identity: ['domain', 'name'], id: byDomainName },
  Directory: { scope: 'domain', identity: ['domain', 'name'], id: byDomainName },
  // Runtime-only: created by directory synchronization (src/sync/directory-run.ts), refused in YAML.
  Contact: { scope: 'domain', identity: ['domain', 'directory', 'identifier'], id: (b) => join(b.domain, b.directory, b.identifier) },
  UserImport: { scope: 'domain', identity: ['domain', 'name'], id: byDomainName },
  User: { scope: 'domain', identity: ['domain', 'username'], id: (b) => join(b.domain, b.username) },
  IntercomGroup: { scope: 'domain', identity: ['domain', 'name'], id: byDomainName },
  CallQueue: { scope: 'domain', identity: ['domain', 'name'], id: byDomainName },
  BotGroup: { scope: 'domain', identity: ['domain', 'name'], id: byDomainName },
  Authorization: {
    scope: 'domain',
    identity: ['domain', 'object', 'grantee'],
    id: (b) => {
      const d = str(b.domain);
      const o = oneKey(b.object);
      const g = oneKey(b.grantee);
      return d && o && g ? `${d}/${o}/${g}` : undefined;
    },
  },
  ApplicationParameter: {
    scope: 'company',
    identity: ['company', 'application', 'name'],
    id: (b) => join(b.company, b.application, b.name),
  },
};

export const KINDS: ReadonlyMap<KindName, KindInfo> = new Map(
  KIND_NAMES.map((name, order) => [name, { name, order, ...INFO[name] }]),
);

/** Kinds only synchronization creates: configuration may not declare them. */
export const RUNTIME_ONLY_KINDS: ReadonlySet<KindName> = new Set<KindName>(['Contact']);

export function isKindName(s: unknown): s is KindName {
  return typeof s === 'string' && KINDS.has(s as KindName);
}

export function kindInfo(kind: KindName): KindInfo {
  return KINDS.get(kind)!;
}

/** The YAML key holding a kind's scope (`company` or `domain`), if it has one. */
export function scopeKey(kind: KindName): 'company' | 'domain' | undefined {
  const s = kindInfo(kind).scope;
  return s === 'server' ? undefined : s;
}
