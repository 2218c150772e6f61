/**
 * Protocol drivers behind one interface, one per PBX link: the `pbx-links` engine gives each
 * the extensions it must supervise and reads back its status and each extension's state.
 *
 * - CSTA: {@link CstaLink} (ECMA-323 XML over TCP). A `snom DEVICE` link (the phones connect
 *   to the server and speak CSTA inside SIP, uaCSTA) or a link without an ip has no driver.
 * - VTI-XML and SIP: no protocol driver. VTI-XML has no public specification (its wire format
 *   is not invented here); bot registration over SIP is not implemented. Their driver checks,
 *   every `probeIntervalMs`, that the PBX accepts TCP connections on the link's address and
 *   says so, and reports every extension as not supervised, with the reason.
 */
import net from 'node:net';
import { CstaLink, type CstaLinkOptions, type ExtensionState, type LinkState } from '../../csta/link.js';
import type { Log } from '../../log.js';

export interface DriverStatus {
  /** `up`: supervising; `unavailable`: no protocol driver for this link (see message). */
  readonly state: LinkState | 'unavailable';
  readonly connected: boolean;
  readonly since: string;
  readonly message?: string;
  /** Extensions supervised now. */
  readonly current: number;
  readonly pending?: number;
  readonly refused?: number;
  readonly overCapacity?: number;
  readonly connects?: number;
  readonly events?: number;
  readonly nextAttemptAt?: string;
  /** For drivers that only probe: did the last TCP probe connect, and when. */
  readonly reachable?: boolean;
  readonly probedAt?: string;
}

export interface LinkDriver {
  /** The extensions this link must supervise, and its capacity. */
  update(extensions: readonly string[], capacity: number | undefined): void;
  status(): DriverStatus;
  extensions(): Iterable<[string, ExtensionState]>;
  stop(): Promise<void>;
}

/** What a driver is built from: the link's fields (its password in clear) and the timing options. */
export interface DriverConfig {
  readonly protocol: string;
  readonly host: string | undefined;
  readonly port: number | undefined;
  readonly username?: string;
  readonly password?: string;
  readonly pbxType?: string;
  readonly pbxDomain?: string;
  readonly log: Log;
  readonly now: () => Date;
}

export interface DriverOptions {
  /** Timings of CSTA links (tests shorten them). */
  readonly csta?: Partial<Pick<CstaLinkOptions, 'connectTimeoutMs' | 'requestTimeoutMs' | 'heartbeatMs' | 'deadAfterMs' | 'backoff' | 'window' | 'sessionDuration' | 'applicationId'>>;
  /** How often VTI-XML and SIP links are probed (default 30 s). */
  readonly probeIntervalMs?: number;
  readonly probeTimeoutMs?: number;
}

/**
 * Why a link of these fields gets no protocol driver (nothing will supervise its extensions),
 * or undefined when a driver supervises them. `short` is what a plan says, `detail` what the
 * link's status says. The single source of {@link createDriver}'s choice and of the plan's impact.
 */
export function missingDriver(link: Pick<DriverConfig, 'protocol' | 'host' | 'port' | 'pbxType'>): { readonly short: string; readonly detail: string } | undefined {
  if (link.protocol === 'csta') {
    if (link.pbxType !== undefined && /device/i.test(link.pbxType)) return { short: `no driver for '${link.pbxType}' links (uaCSTA)`, detail: `no driver for '${link.pbxType}' links: the phones connect to the server and speak CSTA over SIP (uaCSTA), which is not implemented` };
    if (link.host === undefined || link.port === undefined) return { short: 'the CSTA link has no ip', detail: 'the link has no ip: nothing to connect to' };
    return undefined;
  }
  if (link.protocol === 'vtixml') return { short: 'no VTI-XML driver', detail: 'VTI-XML protocol driver not available: no public specification of VTI-XML exists, so extensions on this link are not supervised' };
  return { short: 'no SIP driver', detail: 'SIP protocol driver not available: registering bots with the PBX over SIP is not implemented, so extensions on this link are not supervised' };
}

export function createDriver(config: DriverConfig, options: DriverOptions): LinkDriver {
  const missing = missingDriver(config);
  if (!missing) return new CstaDriver(config, options);
  return config.protocol === 'csta' ? new NoDriver(config, missing.detail) : new ProbeDriver(config, options, missing.detail);
}

class CstaDriver implements LinkDriver {
  readonly #link: CstaLink;

  constructor(config: DriverConfig, options: DriverOptions) {
    this.#link = new CstaLink({
      host: config.host!,
      port: config.port!,
      ...(config.username !== undefined ? { user: config.username } : {}),
      ...(config.password !== undefined ? { password: config.password } : {}),
      ...(config.pbxDomain !== undefined ? { pbxDomain: config.pbxDomain } : {}),
      ...options.csta,
      log: config.log,
      now: config.now,
    });
  }

  update(extensions: readonly string[], capacity: number | undefined): void {
    this.#link.setCapacity(capacity);
    this.#link.setExtensions(extensions);
    this.#link.start();
  }

  status(): DriverStatus {
    const s = this.#link.status();
    return {
      state: s.state,
      connected: s.connected,
      since: s.since,
      ...(s.message !== undefined ? { message: s.message } : {}),
      current: s.current,
      pending: s.pending,
      refused: s.refused,
      overCapacity: s.overCapacity,
      connects: s.connects,
      events: s.events,
      ...(s.nextAttemptAt !== undefined ? { nextAttemptAt: s.nextAttemptAt } : {}),
    };
  }

  extensions(): Iterable<[string, ExtensionState]> {
    return this.#link.extensions();
  }

  stop(): Promise<void> {
    return this.#link.stop();
  }
}

/** A link nothing can supervise: every extension is reported with the reason. */
class NoDriver implements LinkDriver {
  protected wanted: readonly string[] = [];
  protected readonly since: string;

  constructor(
    protected readonly config: DriverConfig,
    protected readonly reason: string,
  ) {
    this.since = config.now().toISOString();
  }

  update(extensions: readonly string[]): void {
    this.wanted = extensions;
  }

  status(): DriverStatus {
    return { state: 'unavailable', connected: false, since: this.since, message: this.reason, current: 0 };
  }

  *extensions(): IterableIterator<[string, ExtensionState]> {
    for (const n of this.wanted) yield [n, { supervision: 'disconnected', callState: 'unknown', error: this.reason }];
  }

  async stop(): Promise<void> {}
}

/** No protocol driver, but an honest TCP reachability check of the PBX. */
class ProbeDriver extends NoDriver {
  readonly #interval: number;
  readonly #timeout: number;
  #timer: NodeJS.Timeout | undefined;
  #socket: net.Socket | undefined;
  #reachable: boolean | undefined;
  #probedAt: string | undefined;
  #detail: string | undefined;
  #stopped = false;

  constructor(config: DriverConfig, options: DriverOptions, reason: string) {
    super(config, reason);
    this.#interval = options.probeIntervalMs ?? 30_000;
    this.#timeout = options.probeTimeoutMs ?? 5000;
    this.#probe();
  }

  #probe(): void {
    const { host, port } = this.config;
    if (this.#stopped || host === undefined || port === undefined) return;
    const socket = net.connect({ host, port });
    this.#socket = socket;
    socket.setTimeout(this.#timeout);
    const done = (reachable: boolean, detail: string) => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      socket.destroy();
      if (reachable !== this.#reachable) this.config.log.info({ host, port, reachable, detail }, 'PBX link probe');
      this.#reachable = reachable;
      this.#detail = detail;
      this.#probedAt = this.config.now().toISOString();
      if (this.#stopped) return;
      this.#timer = setTimeout(() => this.#probe(), this.#interval);
      this.#timer.unref();
    };
    socket.once('connect', () => done(true, `the PBX accepts TCP connections on ${host}:${port}`));
    socket.once('timeout', () => done(false, `no TCP connection to ${host}:${port} within ${this.#timeout} ms`));
    socket.once('error', (e: NodeJS.ErrnoException) => done(false, `${host}:${port} is not reachable over TCP (${e.code ?? e.message})`));
  }

  override status(): DriverStatus {
    return {
      ...super.status(),
      message: this.#detail ? `${this.reason}; ${this.#detail}` : this.reason,
      ...(this.#reachable !== undefined ? { reachable: this.#reachable } : {}),
      ...(this.#probedAt !== undefined ? { probedAt: this.#probedAt } : {}),
    };
  }

  override async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#socket?.destroy();
    this.#socket = undefined;
  }
}
