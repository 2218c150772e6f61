/**
 * `pbx-links`: the PBX links of every domain, the extensions each one supervises, and the
 * protocol driver that supervises them (link-drivers.ts: CSTA over TCP; VTI-XML and SIP only
 * probed, as no driver exists for them).
 *
 * Which link carries which extension is src/model/extensions.ts (shared with validation).
 *
 * Level-based: after each committed change the engine recomputes which link carries which
 * extensions and hands each driver its list: a new extension starts being supervised, a
 * removed one is stopped, the others are untouched. A link whose connection fields change
 * (address, port, credentials, PBX type or domain) is restarted alone; a new link starts, a
 * deleted one stops. The same model gives the impact of a planned change.
 */
import type { ExtensionState } from '../../csta/link.js';
import { byCapacity, compareNumbers, EXTENSION_KINDS, extensionsOf, supervision, type Extension, type Link, type LinkProtocol, type Supervision, type Wanted } from '../../model/extensions.js';
import type { CommittedEvent } from '../core.js';
import { childLog, stateAfter, type Engine, type EngineContext, type EngineReport } from '../engines.js';
import type { Change, ImpactFact, LiveResource, LiveState } from '../types.js';
import { createDriver, missingDriver, type DriverOptions, type DriverStatus, type LinkDriver } from './link-drivers.js';
import { comparable, companyOfDomain, sameJson } from './util.js';

const DEFAULT_PORT: Readonly<Record<LinkProtocol, number | undefined>> = { vtixml: 3199, csta: undefined, sip: 5060 };
/** Fields whose change makes a link reconnect. */
const CONNECTION_FIELDS = ['protocol', 'ip', 'port', 'siteCluster', 'username', 'password', 'pbxType', 'pbxDomain'] as const;
const NAME = 'pbx-links';

/** A link's status: the connection status screen of the manual (§10.4) plus the driver's state. */
export interface LinkStatus extends DriverStatus {
  readonly id: string;
  readonly company: string;
  readonly domain: string;
  readonly name: string;
  readonly protocol: string;
  readonly host: string | undefined;
  readonly port: number | undefined;
  readonly siteCluster?: string;
  /** Extensions this link should supervise (configuration). */
  readonly wanted: number;
  /** Capacity of the link, when declared. */
  readonly total: number | undefined;
}

/** One extension's status: the extension status screen of the manual (§10.5). */
export interface ExtensionStatus extends ExtensionState {
  readonly extension: string;
  readonly company: string;
  readonly domain: string;
  /** The link supervising it (`company/domain/name`); absent when no link of its domain can. */
  readonly link?: string;
  /** Site and cluster of its VTI-XML link (`site.cluster`), as the manual's screen shows them. */
  readonly siteCluster?: string;
  readonly protocol: string | undefined;
  /** CTI (VTI-XML, CSTA) or VOIP (SIP), as the manual's screen shows it. */
  readonly type: 'CTI' | 'VOIP' | 'unknown';
  /** The resource it comes from, `Kind id`. */
  readonly owner: string;
}

export interface ExtensionQuery {
  readonly from?: string;
  readonly to?: string;
  readonly link?: string;
  readonly company?: string;
  readonly limit?: number;
}

const WATCHED = EXTENSION_KINDS;

const portOf = (l: Link) => (typeof l.body.port === 'number' ? l.body.port : l.protocol ? DEFAULT_PORT[l.protocol] : undefined);
const capacityOf = (l: Link) => (typeof l.body.capacity === 'number' ? l.body.capacity : undefined);
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
const TYPE: Readonly<Record<LinkProtocol, ExtensionStatus['type']>> = { vtixml: 'CTI', csta: 'CTI', sip: 'VOIP' };

export interface PbxLinksOptions extends DriverOptions {
  /**
   * Connect the links (default true). False: the engine only models which link carries which
   * extensions (status and impact), as when the runtime is opened by a CLI command.
   */
  readonly connect?: boolean;
}

/** Why nothing will supervise the extensions of link `l` (its driver is missing), or undefined. */
function driverOf(l: Link): string | undefined {
  return missingDriver({ protocol: String(l.protocol), host: str(l.body.ip), port: portOf(l), pbxType: str(l.body.pbxType) })?.short;
}

const PROTOCOL_NAME: Readonly<Record<LinkProtocol, string>> = { vtixml: 'VTI-XML', csta: 'CSTA', sip: 'SIP' };

/** One side (before or after) of a change set: which link carries each extension, and whether it is supervised. */
interface Side {
  /** Extension `number` of resource `owner` (`Kind id`), with the link that carries it (indexed). */
  wanted(owner: string, number: string): Wanted | undefined;
  /** Is extension `number` of resource `owner` (`Kind id`) supervised? */
  supervisedNumber(owner: string, number: string): boolean;
  /** Why extension `x` of `owner` will not be supervised, or undefined when it will. */
  whyNot(owner: string, x: Extension, domain: string): string | undefined;
  /** Why extension `number` carried by link `id` will not be supervised, or undefined. */
  linkWhyNot(id: string, number: string): string | undefined;
  readonly model: Supervision;
  readonly supervised: ReadonlyMap<string, ReadonlySet<string>>;
}

function side(model: Supervision, supervised: ReadonlyMap<string, ReadonlySet<string>>): Side {
  let index: Map<string, Wanted> | undefined;
  const wanted = (owner: string, number: string) => {
    index ??= new Map(model.extensions.map((w) => [`${w.owner}\0${w.number}`, w]));
    return index.get(`${owner}\0${number}`);
  };
  const linkWhyNot = (id: string, number: string): string | undefined => {
    const l = model.links.get(id);
    if (!l) return `no link ${id}`;
    const missing = driverOf(l);
    if (missing) return `${missing} (PbxLink ${id})`;
    return supervised.get(id)?.has(number) ? undefined : `over capacity: PbxLink ${id} supervises at most ${capacityOf(l)} extensions`;
  };
  return {
    model,
    supervised,
    wanted,
    supervisedNumber: (owner, number) => {
      const w = wanted(owner, number);
      return w?.link !== undefined && supervised.get(w.link)?.has(number) === true;
    },
    whyNot: (owner, x, domain) => {
      const w = wanted(owner, x.number);
      if (w?.link !== undefined) return linkWhyNot(w.link, x.number);
      if (x.link !== undefined) return `no link '${x.link}' in domain ${domain}`;
      return `no ${x.protocol ? `${PROTOCOL_NAME[x.protocol]} ` : ''}link in domain ${domain}`;
    },
    linkWhyNot,
  };
}

export class PbxLinksEngine implements Engine {
  readonly name = NAME;
  readonly kinds = WATCHED;
  readonly #options: PbxLinksOptions;
  #ctx: EngineContext | undefined;
  #model: Supervision | undefined;
  readonly #drivers = new Map<string, { readonly driver: LinkDriver; readonly connection: string }>();
  /** The outlook of the last states impact was asked about (one plan asks once per change). */
  #impactCache = new WeakMap<LiveState, { readonly state: LiveState; readonly outlook: { readonly before: Side; readonly after: Side } }>();
  readonly #indexes = new WeakMap<LiveState, Map<string, LiveResource>>();

  constructor(options: PbxLinksOptions = {}) {
    this.#options = options;
  }

  /** An engine that only models the links of `live` (no connection): status and extensions as configured. */
  static offline(live: readonly LiveResource[]): PbxLinksEngine {
    const engine = new PbxLinksEngine({ connect: false });
    engine.#model = supervision(live.filter((r) => WATCHED.includes(r.kind)));
    return engine;
  }

  async start(ctx: EngineContext, live: readonly LiveResource[]): Promise<void> {
    this.#ctx = ctx;
    await this.#converge(live);
  }

  async onChange(_event: CommittedEvent, live: readonly LiveResource[]): Promise<void> {
    await this.#converge(live);
  }

  /** Bring the drivers in line with the live resources: start, restart, stop, update. */
  async #converge(live: readonly LiveResource[]): Promise<void> {
    const model = supervision(live);
    this.#model = model;
    const ctx = this.#ctx;
    if (!ctx || this.#options.connect === false) return;
    const stopping: Promise<void>[] = [];
    for (const [id, d] of this.#drivers) {
      const link = model.links.get(id);
      if (link && this.#connectionKey(link) === d.connection) continue;
      this.#drivers.delete(id);
      ctx.log.info({ link: id, reason: link ? 'connection changed' : 'link deleted' }, link ? 'restarting PBX link' : 'stopping PBX link');
      stopping.push(d.driver.stop());
    }
    await Promise.all(stopping);
    for (const [id, link] of model.links) {
      let d = this.#drivers.get(id);
      if (!d) {
        const driver = createDriver(
          {
            protocol: String(link.protocol),
            host: str(link.body.ip),
            port: portOf(link),
            ...(str(link.body.username) !== undefined ? { username: str(link.body.username)! } : {}),
            ...(ctx.secret('PbxLink', id, ['password']) !== undefined ? { password: ctx.secret('PbxLink', id, ['password'])! } : {}),
            ...(str(link.body.pbxType) !== undefined ? { pbxType: str(link.body.pbxType)! } : {}),
            ...(str(link.body.pbxDomain) !== undefined ? { pbxDomain: str(link.body.pbxDomain)! } : {}),
            log: childLog(ctx.log, { link: id }),
            now: () => ctx.now(),
          },
          this.#options,
        );
        d = { driver, connection: this.#connectionKey(link) };
        this.#drivers.set(id, d);
      }
      d.driver.update(model.byLink.get(id) ?? [], capacityOf(link));
    }
  }

  /** The fields whose change makes a link reconnect, as one comparable string. */
  #connectionKey(link: Link): string {
    return JSON.stringify(CONNECTION_FIELDS.map((f) => link.body[f] ?? null));
  }

  impact(change: Change, before: LiveResource | undefined, state: LiveState, ctx: EngineContext, after: LiveState = state): ImpactFact[] {
    // `after` holds the last change of each resource; a change that is not it (a list of
    // alternatives, or a caller without `after`) is judged with its own body.
    const own = this.#resourceIn(after, change.kind, change.id);
    const o = this.#outlook(state, (change.action === 'delete' ? own === undefined : own?.body === change.body) ? after : stateAfter(after, [change]), ctx);
    if (change.kind === 'PbxLink') {
      const was = o.before.model.links.get(change.id);
      const carriedBefore = o.before.model.byLink.get(change.id) ?? [];
      const carriedAfter = o.after.model.byLink.get(change.id) ?? [];
      if (change.action === 'delete') {
        const stopped = carriedBefore.filter((n) => o.before.supervised.get(change.id)?.has(n));
        const facts: ImpactFact[] = stopped.length > 0 ? [{ type: 'supervision-stop', engine: NAME, extensions: stopped }] : [];
        // Its extensions that another link of the domain carries afterwards (the next default link): what that link does with them.
        const moved = new Map<string, string[]>();
        const orphans = new Map<string, string[]>();
        for (const w of o.before.model.extensions) {
          if (w.link !== change.id) continue;
          const next = o.after.wanted(w.owner, w.number);
          if (next?.link !== undefined) moved.set(next.link, [...(moved.get(next.link) ?? []), w.number]);
          else if (next) {
            const why = o.after.whyNot(next.owner, { number: next.number, protocol: next.protocol, link: next.named }, next.domain)!;
            orphans.set(why, [...(orphans.get(why) ?? []), next.number]);
          }
        }
        for (const [next, numbers] of moved) facts.push(...this.#classify(next, numbers.sort(compareNumbers), o.after));
        for (const [reason, numbers] of orphans) facts.push({ type: 'not-supervised', engine: NAME, extensions: numbers.sort(compareNumbers), reason });
        return facts;
      }
      if (change.action === 'create' || !before || !was) {
        // A new link: what it does for the extensions already configured (new ones are their own change's impact).
        const configured = new Set(o.before.model.extensions.filter((w) => w.domain === change.body.domain).map((w) => w.number));
        return this.#classify(change.id, carriedAfter.filter((n) => configured.has(n)).sort(compareNumbers), o.after);
      }
      const afterBody = comparable('PbxLink', change.body, ctx);
      const changed = CONNECTION_FIELDS.filter((f) => !sameJson(before.body[f], afterBody[f]));
      const interrupted = carriedBefore.filter((n) => o.before.supervised.get(change.id)?.has(n)).length;
      if (changed.length > 0) {
        // After reconnecting, the extensions it keeps carrying that it will not supervise (no driver any more, over capacity).
        const wasCarried = new Set(carriedBefore);
        const kept = carriedAfter.filter((n) => wasCarried.has(n)).sort(compareNumbers);
        const not = this.#classify(change.id, kept, o.after).filter((f) => f.type === 'not-supervised');
        return [{ type: 'restart', engine: NAME, target: `PbxLink ${change.id}`, reason: `${changed.join(', ')} changed: the link reconnects`, extensionsInterrupted: interrupted }, ...not];
      }
      // Capacity: extensions carried before and after whose supervision starts or stops (as the driver hands its slots).
      const sBefore = o.before.supervised.get(change.id) ?? new Set<string>();
      const sAfter = o.after.supervised.get(change.id) ?? new Set<string>();
      const carriedBoth = new Set(carriedBefore);
      const both = carriedAfter.filter((n) => carriedBoth.has(n)).sort(compareNumbers);
      const facts: ImpactFact[] = [];
      const stop = both.filter((n) => sBefore.has(n) && !sAfter.has(n));
      const start = both.filter((n) => !sBefore.has(n) && sAfter.has(n));
      if (stop.length > 0) facts.push({ type: 'supervision-stop', engine: NAME, extensions: stop });
      if (start.length > 0) facts.push({ type: 'supervision-start', engine: NAME, extensions: start });
      return facts;
    }
    const owner = `${change.kind} ${change.id}`;
    const old = before ? extensionsOf(change.kind, before.body) : [];
    const now = change.action === 'delete' ? [] : extensionsOf(change.kind, change.body);
    const key = (x: Extension) => `${x.number}\0${x.protocol}\0${x.link}`;
    const oldKeys = new Set(old.map(key));
    const newKeys = new Set(now.map(key));
    // Only extensions that were supervised stop; each new one starts or says why it will not.
    const stop = old.filter((x) => !newKeys.has(key(x))).filter((x) => o.before.supervisedNumber(owner, x.number)).map((x) => x.number);
    const facts: ImpactFact[] = [];
    if (stop.length > 0) facts.push({ type: 'supervision-stop', engine: NAME, extensions: stop });
    const added = now.filter((x) => !oldKeys.has(key(x)));
    const start: string[] = [];
    const not = new Map<string, string[]>();
    for (const x of added) {
      const why = o.after.whyNot(owner, x, change.action === 'delete' ? '' : String(change.body.domain));
      if (why === undefined) start.push(x.number);
      else not.set(why, [...(not.get(why) ?? []), x.number]);
    }
    if (start.length > 0) facts.push({ type: 'supervision-start', engine: NAME, extensions: start });
    for (const [reason, extensions] of not) facts.push({ type: 'not-supervised', engine: NAME, extensions, reason });
    return facts;
  }

  /** The resource `kind`/`id` of `state` (indexed once per state). */
  #resourceIn(state: LiveState, kind: string, id: string): LiveResource | undefined {
    let index = this.#indexes.get(state);
    if (!index) this.#indexes.set(state, (index = new Map(state.resources.filter((r) => WATCHED.includes(r.kind)).map((r) => [`${r.kind}\0${r.id}`, r]))));
    return index.get(`${kind}\0${id}`);
  }

  /** Start or not-supervised facts for `numbers` carried by link `id` in `side`. */
  #classify(id: string, numbers: readonly string[], side: Side): ImpactFact[] {
    const start: string[] = [];
    const not = new Map<string, string[]>();
    for (const n of numbers) {
      const why = side.linkWhyNot(id, n);
      if (why === undefined) start.push(n);
      else not.set(why, [...(not.get(why) ?? []), n]);
    }
    const facts: ImpactFact[] = [];
    if (start.length > 0) facts.push({ type: 'supervision-start', engine: NAME, extensions: start });
    for (const [reason, extensions] of not) facts.push({ type: 'not-supervised', engine: NAME, extensions, reason });
    return facts;
  }

  /**
   * What the drivers supervise before and after a change set (one plan asks once per change,
   * with the same states): per link, no extension without a driver ({@link missingDriver}); a
   * new or reconnecting link hands its slots in number order ({@link byCapacity}); a running
   * link keeps the extensions it supervises (its highest numbers stop if its capacity shrinks)
   * and hands its free slots to the others in number order — as the CSTA driver does.
   */
  #outlook(state: LiveState, after: LiveState, ctx: EngineContext): { readonly before: Side; readonly after: Side } {
    const cached = this.#impactCache.get(after);
    if (cached && cached.state === state) return cached.outlook;
    const m0 = supervision(state.resources.filter((r) => WATCHED.includes(r.kind)));
    const m1 = supervision(after.resources.filter((r) => WATCHED.includes(r.kind)));
    const s0 = new Map<string, ReadonlySet<string>>();
    for (const [id, l] of m0.links) s0.set(id, driverOf(l) ? new Set<string>() : new Set(byCapacity(m0.byLink.get(id) ?? [], capacityOf(l)).within));
    const s1 = new Map<string, ReadonlySet<string>>();
    for (const [id, l] of m1.links) {
      const carried = m1.byLink.get(id) ?? [];
      const was = m0.links.get(id);
      const body = comparable('PbxLink', l.body, ctx);
      if (driverOf(l)) s1.set(id, new Set<string>());
      else if (!was || driverOf(was) || CONNECTION_FIELDS.some((f) => !sameJson(was.body[f], body[f]))) s1.set(id, new Set(byCapacity(carried, capacityOf(l)).within));
      else {
        const kept = byCapacity(carried.filter((n) => s0.get(id)?.has(n)), capacityOf(l)).within;
        const free = (capacityOf(l) ?? Infinity) - kept.length;
        const keptSet = new Set(kept);
        const waiting = byCapacity(carried.filter((n) => !keptSet.has(n)), free).within;
        s1.set(id, new Set([...kept, ...waiting]));
      }
    }
    const outlook = { before: side(m0, s0), after: side(m1, s1) };
    this.#impactCache.set(after, { state, outlook });
    return outlook;
  }

  /** Each link's status (connection status screen, §10.4). */
  links(canSee: (company: string) => boolean = () => true): LinkStatus[] {
    const m = this.#model;
    if (!m) return [];
    const idle = this.#options.connect === false || !this.#ctx;
    const out: LinkStatus[] = [];
    for (const l of m.links.values()) {
      const company = companyOfDomain(l.domain);
      if (!canSee(company)) continue;
      const wanted = m.byLink.get(l.id)?.length ?? 0;
      const driver: DriverStatus = this.#drivers.get(l.id)?.driver.status() ?? {
        state: 'stopped',
        connected: false,
        since: new Date(0).toISOString(),
        message: idle ? 'links are connected by `switchboard serve`; this process does not run them' : 'not started',
        current: 0,
      };
      out.push({
        id: l.id,
        company,
        domain: l.domain,
        name: String(l.body.name),
        protocol: String(l.protocol),
        host: str(l.body.ip),
        port: portOf(l),
        ...(typeof l.body.siteCluster === 'string' ? { siteCluster: l.body.siteCluster } : {}),
        ...driver,
        wanted,
        total: capacityOf(l),
      });
    }
    return out;
  }

  /** Each configured extension's status (extension status screen, §10.5), in number order. */
  extensions(query: ExtensionQuery = {}, canSee: (company: string) => boolean = () => true): ExtensionStatus[] {
    const m = this.#model;
    if (!m) return [];
    const states = new Map<string, Map<string, ExtensionState>>();
    const stateOf = (link: string, number: string): ExtensionState | undefined => {
      let s = states.get(link);
      if (!s) states.set(link, (s = new Map(this.#drivers.get(link)?.driver.extensions() ?? [])));
      return s.get(number);
    };
    const inRange = (n: string) => (query.from === undefined || compareNumbers(n, query.from) >= 0) && (query.to === undefined || compareNumbers(n, query.to) <= 0);
    const out: ExtensionStatus[] = [];
    for (const x of m.extensions) {
      const company = companyOfDomain(x.domain);
      if (!inRange(x.number) || (query.link !== undefined && x.link !== query.link) || (query.company !== undefined && company !== query.company) || !canSee(company)) continue;
      const state = x.link !== undefined ? stateOf(x.link, x.number) : undefined;
      const carrier = x.link !== undefined ? m.links.get(x.link) : undefined;
      const protocol = carrier ? carrier.protocol : x.protocol;
      const siteCluster = carrier ? str(carrier.body.siteCluster) : undefined;
      out.push({
        extension: x.number,
        company,
        domain: x.domain,
        ...(x.link !== undefined ? { link: x.link } : {}),
        ...(siteCluster !== undefined ? { siteCluster } : {}),
        protocol,
        type: protocol ? TYPE[protocol] : 'unknown',
        owner: x.owner,
        ...(state ?? { supervision: 'disconnected', callState: 'unknown', error: x.link === undefined ? `no ${x.protocol ? `${x.protocol} ` : ''}link in domain ${x.domain} can supervise it` : 'links are connected by `switchboard serve`; this process does not run them' }),
      });
    }
    out.sort((a, b) => compareNumbers(a.extension, b.extension) || (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0));
    return query.limit !== undefined ? out.slice(0, query.limit) : out;
  }

  status(): EngineReport {
    const m = this.#model;
    if (!m) return { state: 'stopped' };
    const links = this.links();
    const up = links.filter((l) => l.connected).length;
    return {
      state: 'running',
      message: this.#options.connect === false ? 'links not connected by this process' : `${up} of ${links.length} links connected`,
      details: { links, unsupervised: [...m.unsupervised].map(([company, extensions]) => ({ company, extensions })) },
    };
  }

  async stop(): Promise<void> {
    const drivers = [...this.#drivers.values()];
    this.#drivers.clear();
    await Promise.all(drivers.map((d) => d.driver.stop()));
    this.#model = undefined;
    this.#ctx = undefined;
  }
}
