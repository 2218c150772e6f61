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
import { compareNumbers, EXTENSION_KINDS, extensionsOf, supervision, type Extension, type Link, type LinkProtocol, type Supervision } from '../../model/extensions.js';
import type { CommittedEvent } from '../core.js';
import { childLog, type Engine, type EngineContext, type EngineReport } from '../engines.js';
import type { Change, ImpactFact, LiveResource, LiveState } from '../types.js';
import { createDriver, type DriverOptions, type DriverStatus, type LinkDriver } from './link-drivers.js';
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

export class PbxLinksEngine implements Engine {
  readonly name = NAME;
  readonly kinds = WATCHED;
  readonly #options: PbxLinksOptions;
  #ctx: EngineContext | undefined;
  #model: Supervision | undefined;
  readonly #drivers = new Map<string, { readonly driver: LinkDriver; readonly connection: string }>();
  /** Supervision of the last state impact was asked about (one plan asks once per change). */
  #impactCache = new WeakMap<LiveState, Supervision>();

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
      if (changed.length > 0) return [{ type: 'restart', engine: NAME, target: `PbxLink ${change.id}`, reason: `${changed.join(', ')} changed: the link reconnects`, extensionsInterrupted: onLink.length }];
      // A capacity change does not reconnect: it supervises more extensions, or stops the last ones (in number order).
      const [was, now] = [before.body.capacity, after.capacity].map((c) => (typeof c === 'number' ? c : Infinity)) as [number, number];
      if (was === now) return [];
      const sorted = [...onLink].sort(compareNumbers);
      const moved = sorted.slice(Math.min(was, now), Math.max(was, now));
      if (moved.length === 0) return [];
      return [{ type: now > was ? 'supervision-start' : 'supervision-stop', engine: NAME, extensions: moved }];
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
