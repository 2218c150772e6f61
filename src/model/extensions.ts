/**
 * Which PBX link carries which extension, from resources alone (desired or live): shared by the
 * validation rules (capacity warnings) and the `pbx-links` engine (what each driver supervises,
 * the impact of a change).
 *
 * Extensions come from users' devices, intercom groups (runs of `count` numbers), call queues and
 * bot groups (SIP runs). An extension is carried by the link its device names (`link`, a link
 * of the device's domain), otherwise by the first link of the domain, in id order, whose
 * protocol matches the device's (VTI-XML ↔ vtixml, CSTA ↔ csta, SIP ↔ sip).
 */
import type { KindName } from './kinds.js';

type Body = Readonly<Record<string, unknown>>;
export type LinkProtocol = 'vtixml' | 'csta' | 'sip';

/** What the functions here read of a resource. */
export interface ResourceLike {
  readonly kind: KindName;
  readonly id: string;
  readonly body: Body;
}

/** The kinds that bring extensions, and PbxLink: what {@link supervision} reads. */
export const EXTENSION_KINDS: readonly KindName[] = ['PbxLink', 'User', 'IntercomGroup', 'CallQueue', 'BotGroup'];

const DEVICE_PROTOCOL: Readonly<Record<string, LinkProtocol>> = { 'VTI-XML': 'vtixml', CSTA: 'csta', SIP: 'sip' };

/** The company of a domain id (`company/domain`). */
export function companyOfDomain(domain: string): string {
  const i = domain.indexOf('/');
  return i < 0 ? domain : domain.slice(0, i);
}

/** `count` consecutive numbers from `first`, keeping its width; undefined when `first` is not all digits. */
export function expandNumbers(first: string, count: number): string[] | undefined {
  if (count <= 1) return [first];
  if (!/^[0-9]+$/.test(first)) return undefined;
  const start = BigInt(first);
  const out: string[] = [];
  for (let i = 0n; i < BigInt(count); i++) out.push((start + i).toString().padStart(first.length, '0'));
  return out;
}

/** Compare extension numbers: numerically when both are digits, else as text. */
export function compareNumbers(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b) && a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One extension a resource asks the server to supervise. */
export interface Extension {
  readonly number: string;
  readonly protocol: LinkProtocol | undefined;
  /** Name of the link the device names, if any. */
  readonly link: string | undefined;
}

/** The extensions a resource of a watched kind brings. */
export function extensionsOf(kind: KindName, body: Body): Extension[] {
  const out: Extension[] = [];
  const add = (number: unknown, protocol: unknown, link: unknown, count: unknown = 1) => {
    if (typeof number !== 'string' || number === '') return;
    const numbers = expandNumbers(number, typeof count === 'number' && count > 1 ? count : 1) ?? [number];
    const p = typeof protocol === 'string' ? DEVICE_PROTOCOL[protocol] : undefined;
    for (const n of numbers) out.push({ number: n, protocol: p, link: typeof link === 'string' ? link : undefined });
  };
  const devices = (v: unknown) => (Array.isArray(v) ? (v.filter((d) => d && typeof d === 'object') as Body[]) : []);
  switch (kind) {
    case 'User':
      for (const d of devices(body.devices)) add(d.number, d.protocol, d.link);
      break;
    case 'IntercomGroup':
      for (const d of devices(body.devices)) add(d.number, d.protocol, undefined, d.count);
      break;
    case 'CallQueue':
      add(body.number, body.protocol, undefined);
      break;
    case 'BotGroup':
      add(body.firstNumber, body.protocol ?? 'SIP', undefined, body.count);
      break;
    default:
      break;
  }
  return out;
}

export interface Link {
  readonly id: string;
  readonly body: Body;
  readonly domain: string;
  readonly protocol: LinkProtocol | undefined;
}

export interface Wanted {
  readonly number: string;
  readonly domain: string;
  readonly protocol: LinkProtocol | undefined;
  readonly owner: string;
  readonly link: string | undefined;
  /** The link name its device names, if any (`link` is then that link, or undefined when the domain has none of that name). */
  readonly named: string | undefined;
}

/** Which link supervises which extensions, for a set of live resources. */
export interface Supervision {
  readonly links: ReadonlyMap<string, Link>;
  readonly byLink: ReadonlyMap<string, readonly string[]>;
  /** Every extension the configuration asks for, with its link when one can carry it. */
  readonly extensions: readonly Wanted[];
  /** Per company, how many extensions no link of their domain can supervise. */
  readonly unsupervised: ReadonlyMap<string, number>;
}

export function supervision(resources: readonly ResourceLike[]): Supervision {
  const links = new Map<string, Link>();
  for (const r of resources) {
    if (r.kind !== 'PbxLink') continue;
    const domain = String(r.body.domain);
    links.set(r.id, { id: r.id, body: r.body, domain, protocol: r.body.protocol as LinkProtocol | undefined });
  }
  // The default link per domain and protocol: the first by name.
  const byDomain = new Map<string, Link>();
  for (const l of [...links.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) {
    const key = `${l.domain}\0${l.protocol}`;
    if (!byDomain.has(key)) byDomain.set(key, l);
  }
  const byLink = new Map<string, string[]>([...links.keys()].map((id) => [id, []]));
  const unsupervised = new Map<string, number>();
  const extensions: Wanted[] = [];
  for (const r of resources) {
    if (r.kind === 'PbxLink') continue;
    const domain = r.body.domain;
    if (typeof domain !== 'string') continue;
    for (const x of extensionsOf(r.kind, r.body)) {
      const link = x.link !== undefined ? links.get(`${domain}/${x.link}`) : byDomain.get(`${domain}\0${x.protocol}`);
      extensions.push({ number: x.number, domain, protocol: x.protocol, owner: `${r.kind} ${r.id}`, link: link?.id, named: x.link });
      if (link) byLink.get(link.id)!.push(x.number);
      else unsupervised.set(companyOfDomain(domain), (unsupervised.get(companyOfDomain(domain)) ?? 0) + 1);
    }
  }
  return { links, byLink, extensions, unsupervised };
}


/**
 * The extensions a link of `capacity` supervises when it hands out its slots from scratch (a
 * new or reconnecting link): the lowest numbers; the rest are over capacity. Shared by the
 * `link-capacity` rule and the plan's impact (the CSTA driver assigns slots in this order).
 */
export function byCapacity(carried: readonly string[], capacity: number | undefined): { readonly within: string[]; readonly over: string[] } {
  const sorted = [...carried].sort(compareNumbers);
  const limit = capacity ?? Infinity;
  return { within: sorted.slice(0, limit), over: sorted.slice(limit) };
}
