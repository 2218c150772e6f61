/**
 * `pbx-links`: the PBX links of every domain and the extensions each one supervises.
 *
 * An extension is supervised by the link its device names (`link`, a link of the device's
 * domain), otherwise by the first link of the domain (in name order) whose protocol matches
 * the device's (VTI-XML ↔ vtixml, CSTA ↔ csta, SIP ↔ sip). Devices come from users,
 * intercom groups (runs of `count` numbers), call queues and bot groups (SIP runs).
 *
 * No protocol driver exists yet (the CSTA issue adds the TCP driver), so every link reports
 * `connected: false`; what this engine already knows is which extensions each link carries,
 * hence its status (host, port, current = supervised extensions, total = capacity) and the
 * impact of a change: a link whose connection changes must reconnect (restart, with the
 * extensions that lose supervision meanwhile), devices created or deleted start or stop
 * being supervised, a deleted link stops supervising its extensions.
 */
import type { KindName } from '../../model/kinds.js';
import { expandNumbers } from '../../validate/rules.js';
import type { CommittedEvent } from '../core.js';
import type { Engine, EngineContext, EngineReport } from '../engines.js';
import type { Change, ImpactFact, LiveResource, LiveState } from '../types.js';
import { comparable, companyOfDomain, sameJson } from './util.js';

type Body = Readonly<Record<string, unknown>>;
type LinkProtocol = 'vtixml' | 'csta' | 'sip';

const DEVICE_PROTOCOL: Readonly<Record<string, LinkProtocol>> = { 'VTI-XML': 'vtixml', CSTA: 'csta', SIP: 'sip' };
const DEFAULT_PORT: Readonly<Record<LinkProtocol, number | undefined>> = { vtixml: 3199, csta: undefined, sip: 5060 };
/** Fields whose change makes a link reconnect. */
const CONNECTION_FIELDS = ['protocol', 'ip', 'port', 'siteCluster', 'username', 'password', 'pbxType', 'pbxDomain'] as const;
const NAME = 'pbx-links';

export interface LinkStatus {
  readonly id: string;
  readonly company: string;
  readonly domain: string;
  readonly name: string;
  readonly protocol: string;
  readonly host: string | undefined;
  readonly port: number | undefined;
  readonly siteCluster?: string;
  readonly connected: boolean;
  /** Extensions supervised on this link. */
  readonly current: number;
  /** Capacity of the link, when declared. */
  readonly total: number | undefined;
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

interface Link {
  readonly id: string;
  readonly body: Body;
  readonly domain: string;
  readonly protocol: LinkProtocol | undefined;
}

/** Which link supervises which extensions, for a set of live resources. */
export interface Supervision {
  readonly links: ReadonlyMap<string, Link>;
  readonly byLink: ReadonlyMap<string, readonly string[]>;
  /** Per company, how many extensions no link of their domain can supervise. */
  readonly unsupervised: ReadonlyMap<string, number>;
}

export function supervision(resources: readonly LiveResource[]): Supervision {
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
  for (const r of resources) {
    if (r.kind === 'PbxLink') continue;
    const domain = r.body.domain;
    if (typeof domain !== 'string') continue;
    for (const x of extensionsOf(r.kind, r.body)) {
      const link = x.link !== undefined ? links.get(`${domain}/${x.link}`) : byDomain.get(`${domain}\0${x.protocol}`);
      if (link) byLink.get(link.id)!.push(x.number);
      else unsupervised.set(companyOfDomain(domain), (unsupervised.get(companyOfDomain(domain)) ?? 0) + 1);
    }
  }
  return { links, byLink, unsupervised };
}

const WATCHED: readonly KindName[] = ['PbxLink', 'User', 'IntercomGroup', 'CallQueue', 'BotGroup'];

export class PbxLinksEngine implements Engine {
  readonly name = NAME;
  readonly kinds = WATCHED;
  #model: Supervision | undefined;
  /** Supervision of the last state impact was asked about (one plan asks once per change). */
  #impactCache = new WeakMap<LiveState, Supervision>();

  async start(_ctx: EngineContext, live: readonly LiveResource[]): Promise<void> {
    this.#model = supervision(live);
  }

  async onChange(_event: CommittedEvent, live: readonly LiveResource[]): Promise<void> {
    // Level-based: recompute from the live resources. A driver would (re)connect links here.
    this.#model = supervision(live);
  }

  impact(change: Change, before: LiveResource | undefined, state: LiveState, ctx: EngineContext): ImpactFact[] {
    const model = () => {
      let m = this.#impactCache.get(state);
      if (!m) this.#impactCache.set(state, (m = supervision(state.resources.filter((r) => WATCHED.includes(r.kind)))));
      return m;
    };
    if (change.kind === 'PbxLink') {
      if (change.action === 'create' || !before) return [];
      const onLink = model().byLink.get(change.id) ?? [];
      if (change.action === 'delete') return onLink.length > 0 ? [{ type: 'supervision-stop', engine: NAME, extensions: onLink }] : [];
      const after = comparable('PbxLink', change.body, ctx);
      const changed = CONNECTION_FIELDS.filter((f) => !sameJson(before.body[f], after[f]));
      if (changed.length === 0) return [];
      return [{ type: 'restart', engine: NAME, target: `PbxLink ${change.id}`, reason: `${changed.join(', ')} changed: the link reconnects`, extensionsInterrupted: onLink.length }];
    }
    const old = before ? extensionsOf(change.kind, before.body) : [];
    const now = change.action === 'delete' ? [] : extensionsOf(change.kind, change.body);
    const key = (x: Extension) => `${x.number}\0${x.protocol}\0${x.link}`;
    const oldKeys = new Set(old.map(key));
    const newKeys = new Set(now.map(key));
    const stop = old.filter((x) => !newKeys.has(key(x))).map((x) => x.number);
    const start = now.filter((x) => !oldKeys.has(key(x))).map((x) => x.number);
    const facts: ImpactFact[] = [];
    if (stop.length > 0) facts.push({ type: 'supervision-stop', engine: NAME, extensions: stop });
    if (start.length > 0) facts.push({ type: 'supervision-start', engine: NAME, extensions: start });
    return facts;
  }

  status(): EngineReport {
    const m = this.#model;
    if (!m) return { state: 'stopped' };
    const links: LinkStatus[] = [...m.links.values()].map((l) => {
      const port = typeof l.body.port === 'number' ? l.body.port : l.protocol ? DEFAULT_PORT[l.protocol] : undefined;
      return {
        id: l.id,
        company: companyOfDomain(l.domain),
        domain: l.domain,
        name: String(l.body.name),
        protocol: String(l.protocol),
        host: typeof l.body.ip === 'string' ? l.body.ip : undefined,
        port,
        ...(typeof l.body.siteCluster === 'string' ? { siteCluster: l.body.siteCluster } : {}),
        connected: false,
        current: m.byLink.get(l.id)?.length ?? 0,
        total: typeof l.body.capacity === 'number' ? l.body.capacity : undefined,
      };
    });
    return {
      state: 'running',
      message: 'no protocol driver yet: links are not connected',
      details: { links, unsupervised: [...m.unsupervised].map(([company, extensions]) => ({ company, extensions })) },
    };
  }

  async stop(): Promise<void> {
    this.#model = undefined;
  }
}
