/**
 * The application side of one CSTA link (ECMA-323 XML over TCP): connect, start up as the
 * switch expects, supervise a set of extensions, follow their events, stay alive, reconnect.
 *
 * Start-up: TCP connect → with credentials, ECMA-354 `StartApplicationSession` carrying
 * `<user>`/`<password>` (OpenScape Business), else wait for the switch's greeting, its
 * `SystemStatus` (OpenScape Voice), at most `greetingMs` → `SystemRegister` (a switch that
 * refuses it is only logged) → `MonitorStart` for each extension, pipelined (`window` in
 * flight). Every `SystemStatus` the switch sends is answered at once, with its invoke id. The
 * link speaks the switch's edition (the namespace of its messages or the session's
 * `actualProtocolVersion`). The session timer is reset at 80 % of its duration.
 *
 * Supervision is level-based: {@link CstaLink.setExtensions} gives the extensions wanted; the
 * link starts what is missing and stops (`MonitorStop`) what is no longer wanted, touching
 * nothing else. At most `capacity` extensions are supervised: those already supervised keep
 * their slot, the others take free slots in number order, the rest are reported
 * `over-capacity` (never silently dropped). A device the switch refuses (`CSTAErrorCode`) is
 * reported `refused` with the switch's error and asked again only after a reconnect.
 *
 * Liveness: when the switch has been silent for `heartbeatMs` the link sends `SystemStatus`;
 * silent for `deadAfterMs`, or a request unanswered after `requestTimeoutMs`, the link is dead.
 * A dead link, a closed socket, or a byte stream that breaks the framing or the XML drops the
 * connection and reconnects with exponential backoff (`initialMs` doubling to `maxMs`; the
 * streak resets once a connection is up); a reconnect monitors everything again.
 */
import net from 'node:net';
import { silentLog, type Log } from '../log.js';
import { compareNumbers } from '../model/extensions.js';
import { EVENT_INVOKE_ID, FrameDecoder, encodeFrame } from './frame.js';
import {
  CSTA_NS,
  errorOf,
  eventOf,
  monitorStart,
  monitorStop,
  parseMessage,
  resetApplicationSessionTimer,
  snapshotDevice,
  snapshotStateOf,
  startApplicationSession,
  stopApplicationSession,
  systemRegister,
  systemStatus,
  systemStatusResponse,
  textAt,
  type CallState,
  type CstaMessage,
} from './messages.js';

export interface CstaLinkOptions {
  readonly host: string;
  readonly port: number;
  /** Credentials of an ECMA-354 session; without both, no session is started. */
  readonly user?: string;
  readonly password?: string;
  /** `applicationID` of the session (default `switchboard`). */
  readonly applicationId?: string;
  /** CSTA namespace the link speaks (default edition 4); answers in any edition 2–5 are accepted. */
  readonly namespace?: string;
  /** Most extensions supervised at once (default: no limit). */
  readonly capacity?: number;
  /** When set, devices are addressed as `sip:<number>@<pbxDomain>` (snom), else by number. */
  readonly pbxDomain?: string;
  readonly connectTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  readonly heartbeatMs?: number;
  readonly deadAfterMs?: number;
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /** MonitorStart requests in flight at once (default 100). */
  readonly window?: number;
  /** Session duration asked for, seconds (default 600). */
  readonly sessionDuration?: number;
  /**
   * After each MonitorStart, ask the device's current calls (`SnapshotDevice`) so its state is
   * right from the start, not only after its next event (default true). A switch that refuses
   * snapshots is not asked again on that connection; states then start `idle`.
   */
  readonly snapshot?: boolean;
  /** Without a session, how long to wait for the switch's greeting (its SystemStatus) before registering (default 1,000 ms). */
  readonly greetingMs?: number;
  readonly log?: Log;
  readonly now?: () => Date;
}

export type LinkState = 'stopped' | 'connecting' | 'starting' | 'up' | 'backoff';

/** Supervision of one extension: `monitored` once the switch accepted its MonitorStart. */
export type Supervision = 'pending' | 'monitored' | 'refused' | 'over-capacity' | 'disconnected';

export interface ExtensionState {
  readonly supervision: Supervision;
  /** What the phone is doing, from its events (`unknown` until one arrives while supervised). */
  readonly callState: CallState;
  readonly lastEvent?: { readonly name: string; readonly at: string; readonly cause?: string };
  /** Why it is refused (the switch's CSTAErrorCode) or over capacity. */
  readonly error?: string;
}

export interface CstaLinkStatus {
  readonly state: LinkState;
  readonly connected: boolean;
  readonly since: string;
  /** The last reason the connection dropped or failed, while not up. */
  readonly message?: string;
  readonly connects: number;
  /** Extensions the switch is supervising now. */
  readonly current: number;
  readonly total: number | undefined;
  readonly wanted: number;
  readonly pending: number;
  readonly refused: number;
  readonly overCapacity: number;
  readonly events: number;
  /** Events whose monitorCrossRefID matches no monitor of this link. */
  readonly unmatchedEvents: number;
  readonly nextAttemptAt?: string;
  readonly session?: string;
}

interface Ext {
  supervision: Supervision;
  callState: CallState;
  xref: string | undefined;
  lastEvent: ExtensionState['lastEvent'];
  error: string | undefined;
  /** Events applied to it: a snapshot answer older than the last event is ignored. */
  events: number;
}

interface Pending {
  readonly name: string;
  readonly resolve: (m: CstaMessage) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** A reason to drop the connection; carries the message shown in the status. */
class LinkDown extends Error {}

const CSTA_NAMESPACE = /\/ecma-323\/csta\/ed[2-5]\/?$/;


export class CstaLink {
  #o: Required<Omit<CstaLinkOptions, 'user' | 'password' | 'capacity' | 'pbxDomain' | 'backoff'>> & Pick<CstaLinkOptions, 'user' | 'password' | 'capacity' | 'pbxDomain'>;
  readonly #initialBackoff: number;
  readonly #maxBackoff: number;
  readonly #log: Log;
  readonly #ext = new Map<string, Ext>();
  readonly #byXref = new Map<string, string>();
  readonly #pending = new Map<number, Pending>();
  readonly #listeners = new Set<() => void>();
  #state: LinkState = 'stopped';
  #since: Date;
  #message: string | undefined;
  #socket: net.Socket | undefined;
  /** Bumped per connection: callbacks of an older connection do nothing. */
  #generation = 0;
  #nextInvoke = 1;
  #lastRx = 0;
  #heartbeat: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;
  #sessionTimer: NodeJS.Timeout | undefined;
  #nextAttempt: Date | undefined;
  #streak = 0;
  #connects = 0;
  #events = 0;
  #unmatched = 0;
  #session: string | undefined;
  /** The CSTA namespace spoken on this connection: the configured one until the switch shows its own. */
  #ns: string;
  /** Whether the switch has sent anything on this connection; `#greeted` wakes the start-up waiting for it. */
  #heard = false;
  #greeted: (() => void) | undefined;
  #heartbeatInFlight = false;
  /** Extensions whose MonitorStart is in flight. */
  #inFlight = 0;
  /** Extensions whose MonitorStart is in flight, by number. */
  readonly #inFlightFor = new Set<string>();
  /** Extensions given a slot and waiting for the window, in number order; #queueAt is the next. */
  #queue: string[] = [];
  #queueAt = 0;
  /** Set when slots must be handed out again (extensions added or removed, a slot freed while some are over capacity). */
  #queueDirty = true;
  #overCapacity = false;
  /** Monitored extensions waiting for their SnapshotDevice, and how many are in flight. */
  #snapshots: string[] = [];
  #snapshotAt = 0;
  #snapshotsInFlight = 0;
  /** False once the switch refused a snapshot on this connection. */
  #snapshotsWork = true;

  constructor(options: CstaLinkOptions) {
    this.#o = {
      applicationId: 'switchboard',
      namespace: CSTA_NS.ed4,
      connectTimeoutMs: 5000,
      requestTimeoutMs: 10_000,
      heartbeatMs: 30_000,
      deadAfterMs: 60_000,
      window: 100,
      sessionDuration: 600,
      greetingMs: 1000,
      snapshot: true,
      log: silentLog,
      now: () => new Date(),
      ...options,
    };
    this.#initialBackoff = options.backoff?.initialMs ?? 1000;
    this.#maxBackoff = options.backoff?.maxMs ?? 60_000;
    this.#log = this.#o.log;
    this.#ns = this.#o.namespace;
    this.#since = this.#o.now();
  }

  /**
   * Change the capacity without reconnecting: a larger one supervises waiting extensions; a
   * smaller one stops the highest-numbered supervised ones (reported over capacity).
   */
  setCapacity(capacity: number | undefined): void {
    if (capacity === this.#o.capacity) return;
    this.#o = { ...this.#o, capacity };
    const limit = capacity ?? Infinity;
    const monitored = [...this.#ext].filter(([, e]) => e.supervision === 'monitored').map(([n]) => n);
    if (monitored.length + this.#inFlightFor.size > limit) {
      monitored.sort(compareNumbers);
      for (const n of monitored.slice(Math.max(0, limit - this.#inFlightFor.size))) {
        const e = this.#ext.get(n)!;
        if (e.xref !== undefined) {
          this.#byXref.delete(e.xref);
          this.#request('MonitorStop', monitorStop(this.#ns, e.xref)).catch(() => undefined);
        }
        e.xref = undefined;
        e.callState = 'unknown';
        e.supervision = 'over-capacity';
        e.error = `the link supervises at most ${limit} extensions`;
      }
    }
    this.#queueDirty = true;
    this.#pump();
  }

  /** Called after every change of the status or of an extension (tests, push updates). */
  onUpdate(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Connect (and keep reconnecting) until {@link stop}. */
  start(): void {
    if (this.#state !== 'stopped') return;
    this.#connect();
  }

  /** The extensions to supervise; only the difference with the current set is sent to the switch. */
  setExtensions(numbers: Iterable<string>): void {
    const wanted = new Set(numbers);
    for (const [n, e] of this.#ext) {
      if (wanted.has(n)) continue;
      this.#ext.delete(n);
      this.#queueDirty = true;
      // One in flight keeps its slot until its answer, which then stops it (see #monitor).
      if (e.xref !== undefined) {
        this.#byXref.delete(e.xref);
        if (this.#state === 'up') this.#request('MonitorStop', monitorStop(this.#ns, e.xref)).catch((err: Error) => this.#log.debug({ extension: n, err: err.message }, 'MonitorStop failed'));
      }
    }
    for (const n of wanted) {
      if (this.#ext.has(n)) continue;
      this.#ext.set(n, { supervision: this.#state === 'up' ? 'pending' : 'disconnected', callState: 'unknown', xref: undefined, lastEvent: undefined, error: undefined, events: 0 });
      this.#queueDirty = true;
    }
    if (this.#state === 'up') this.#pump();
    else this.#notify();
  }

  status(): CstaLinkStatus {
    let current = 0;
    let pending = 0;
    let refused = 0;
    let over = 0;
    for (const e of this.#ext.values()) {
      if (e.supervision === 'monitored') current++;
      else if (e.supervision === 'pending') pending++;
      else if (e.supervision === 'refused') refused++;
      else if (e.supervision === 'over-capacity') over++;
    }
    return {
      state: this.#state,
      connected: this.#state === 'up' || this.#state === 'starting',
      since: this.#since.toISOString(),
      ...(this.#message !== undefined ? { message: this.#message } : {}),
      connects: this.#connects,
      current,
      total: this.#o.capacity,
      wanted: this.#ext.size,
      pending,
      refused,
      overCapacity: over,
      events: this.#events,
      unmatchedEvents: this.#unmatched,
      ...(this.#nextAttempt ? { nextAttemptAt: this.#nextAttempt.toISOString() } : {}),
      ...(this.#session !== undefined ? { session: this.#session } : {}),
    };
  }

  /** Each wanted extension's state. */
  *extensions(): IterableIterator<[string, ExtensionState]> {
    for (const [n, e] of this.#ext) {
      yield [n, { supervision: e.supervision, callState: e.callState, ...(e.lastEvent ? { lastEvent: e.lastEvent } : {}), ...(e.error !== undefined ? { error: e.error } : {}) }];
    }
  }

  /** Close the connection (ending the session first when there is one) and stop reconnecting. */
  async stop(): Promise<void> {
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = undefined;
    this.#nextAttempt = undefined;
    const socket = this.#socket;
    const wasUp = this.#state === 'up' || this.#state === 'starting';
    if (socket && !socket.destroyed && this.#session !== undefined && this.#state === 'up') {
      try {
        socket.write(encodeFrame(this.#invokeId(), stopApplicationSession(this.#session)));
      } catch {
        // best effort
      }
    }
    this.#teardown('stopped');
    this.#setState('stopped', undefined);
    if (socket && !wasUp) socket.destroy();
    else if (socket && !socket.destroyed) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          socket.destroy();
          resolve();
        }, 1000);
        t.unref();
        socket.once('close', () => {
          clearTimeout(t);
          resolve();
        });
        socket.end();
      });
    }
  }

  // ---- connection --------------------------------------------------------------------

  #connect(): void {
    const generation = ++this.#generation;
    this.#nextAttempt = undefined;
    this.#ns = this.#o.namespace;
    this.#setState('connecting', this.#message);
    const socket = net.connect({ host: this.#o.host, port: this.#o.port });
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.setTimeout(this.#o.connectTimeoutMs);
    const decoder = new FrameDecoder();
    const live = () => generation === this.#generation;
    socket.once('timeout', () => live() && this.#down(`no TCP connection to ${this.#o.host}:${this.#o.port} within ${this.#o.connectTimeoutMs} ms`));
    socket.on('error', (e: NodeJS.ErrnoException) => live() && this.#down(`${e.code ?? 'socket error'}: ${e.message}`));
    socket.on('close', () => live() && this.#down('the switch closed the connection'));
    socket.on('connect', () => {
      if (!live()) return;
      socket.setTimeout(0);
      this.#connects++;
      this.#lastRx = Date.now();
      this.#setState('starting', undefined);
      this.#log.info({ host: this.#o.host, port: this.#o.port }, 'CSTA link connected');
      this.#startHeartbeat(generation);
      this.#startup(generation).catch((e: Error) => live() && this.#down(e.message));
    });
    socket.on('data', (chunk: Buffer) => {
      if (!live()) return;
      this.#lastRx = Date.now();
      let frames;
      try {
        frames = decoder.push(chunk);
      } catch (e) {
        this.#log.warn({ host: this.#o.host, port: this.#o.port, err: (e as Error).message }, 'CSTA framing lost: reconnecting');
        this.#down(`framing error: ${(e as Error).message}`);
        return;
      }
      for (const f of frames) {
        if (!live()) return;
        let msg: CstaMessage;
        try {
          msg = parseMessage(f.xml);
        } catch (e) {
          this.#log.warn({ host: this.#o.host, port: this.#o.port, invokeId: f.invokeId, err: (e as Error).message }, 'bad CSTA message: reconnecting');
          this.#down(`bad message (invoke id ${String(f.invokeId).padStart(4, '0')}): ${(e as Error).message}`);
          return;
        }
        this.#receive(f.invokeId, msg);
      }
      this.#greeted?.();
    });
  }

  async #startup(generation: number): Promise<void> {
    const { user, password } = this.#o;
    if (user !== undefined && password !== undefined) {
      const answer = await this.#request('StartApplicationSession', startApplicationSession({ applicationId: this.#o.applicationId, user, password, protocol: this.#o.namespace, duration: this.#o.sessionDuration }));
      if (generation !== this.#generation) return;
      if (answer.name !== 'StartApplicationSessionPosResponse') {
        const reason = textAt(answer.body, 'errorCode', 'definedError') ?? errorOf(answer)?.value ?? answer.name;
        throw new LinkDown(`the switch refused the application session: ${reason || 'no reason given'} (check username and password)`);
      }
      this.#session = textAt(answer.body, 'sessionID');
      const version = textAt(answer.body, 'actualProtocolVersion');
      if (version && CSTA_NAMESPACE.test(version)) this.#ns = version;
      const duration = Number(textAt(answer.body, 'actualSessionDuration') ?? this.#o.sessionDuration);
      this.#scheduleSessionReset(generation, Number.isFinite(duration) && duration > 0 ? duration : this.#o.sessionDuration);
    } else if (!this.#heard) {
      // Switches greet first (OpenScape Voice sends SystemStatus): learn its edition before registering.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#o.greetingMs);
        timer.unref();
        this.#greeted = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#greeted = undefined;
      if (generation !== this.#generation) return;
    }
    const reg = await this.#request('SystemRegister', systemRegister(this.#ns));
    if (generation !== this.#generation) return;
    if (reg.name !== 'SystemRegisterResponse') this.#log.info({ answer: errorOf(reg)?.value ?? reg.name }, 'the switch does not take SystemRegister: going on without it');
    this.#streak = 0;
    this.#setState('up', undefined);
    for (const e of this.#ext.values()) {
      if (e.supervision === 'disconnected') e.supervision = 'pending';
    }
    this.#queueDirty = true;
    this.#pump();
  }

  #scheduleSessionReset(generation: number, seconds: number): void {
    if (this.#sessionTimer) clearTimeout(this.#sessionTimer);
    this.#sessionTimer = setTimeout(() => {
      if (generation !== this.#generation || this.#session === undefined) return;
      this.#request('ResetApplicationSessionTimer', resetApplicationSessionTimer(this.#session, this.#o.sessionDuration))
        .then((m) => {
          if (generation !== this.#generation) return;
          if (!m.name.endsWith('PosResponse')) throw new LinkDown(`the switch refused to extend the application session (${m.name})`);
          const d = Number(textAt(m.body, 'actualSessionDuration') ?? this.#o.sessionDuration);
          this.#scheduleSessionReset(generation, Number.isFinite(d) && d > 0 ? d : this.#o.sessionDuration);
        })
        .catch((e: Error) => generation === this.#generation && this.#down(e.message));
    }, Math.max(1000, seconds * 800));
    this.#sessionTimer.unref();
  }

  #startHeartbeat(generation: number): void {
    const tick = Math.max(50, Math.min(this.#o.heartbeatMs, this.#o.deadAfterMs) / 4);
    this.#heartbeat = setInterval(() => {
      if (generation !== this.#generation) return;
      const quiet = Date.now() - this.#lastRx;
      if (quiet >= this.#o.deadAfterMs) {
        this.#log.warn({ host: this.#o.host, port: this.#o.port, silentMs: quiet }, 'CSTA link silent: dead, reconnecting');
        this.#down(`the switch sent nothing for ${Math.round(quiet / 1000)} s: link dead`);
      } else if (quiet >= this.#o.heartbeatMs && !this.#heartbeatInFlight && this.#state === 'up') {
        this.#heartbeatInFlight = true;
        this.#request('SystemStatus', systemStatus(this.#ns), this.#o.deadAfterMs)
          .catch(() => undefined) // the dead-link check decides
          .finally(() => {
            this.#heartbeatInFlight = false;
          });
      }
    }, tick);
    this.#heartbeat.unref();
  }

  /** Drop the connection for `reason` and schedule a reconnect. */
  #down(reason: string): void {
    if (this.#state === 'stopped' || this.#state === 'backoff') return;
    this.#teardown('disconnected');
    const delay = Math.min(this.#initialBackoff * 2 ** this.#streak, this.#maxBackoff);
    this.#streak++;
    this.#nextAttempt = new Date(this.#o.now().getTime() + delay);
    this.#log.warn({ host: this.#o.host, port: this.#o.port, reason, retryInMs: delay }, 'CSTA link down');
    this.#setState('backoff', reason);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#connect();
    }, delay);
    this.#retry.unref();
  }

  /** Forget the connection: pending requests fail, every extension loses its monitor. */
  #teardown(supervision: 'disconnected' | 'stopped'): void {
    this.#generation++;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    if (this.#sessionTimer) clearTimeout(this.#sessionTimer);
    this.#heartbeat = undefined;
    this.#sessionTimer = undefined;
    this.#heartbeatInFlight = false;
    this.#session = undefined;
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket && supervision === 'disconnected') socket.destroy();
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new LinkDown('connection closed'));
    }
    this.#pending.clear();
    this.#byXref.clear();
    this.#inFlight = 0;
    this.#inFlightFor.clear();
    this.#queue = [];
    this.#queueAt = 0;
    this.#queueDirty = true;
    this.#snapshots = [];
    this.#snapshotAt = 0;
    this.#snapshotsInFlight = 0;
    this.#snapshotsWork = true;
    for (const e of this.#ext.values()) {
      e.supervision = 'disconnected';
      e.xref = undefined;
      e.callState = 'unknown';
      e.error = undefined;
    }
  }

  // ---- messages ----------------------------------------------------------------------

  #invokeId(): number {
    const id = this.#nextInvoke;
    do {
      this.#nextInvoke = this.#nextInvoke >= 9998 ? 1 : this.#nextInvoke + 1;
    } while (this.#pending.has(this.#nextInvoke) && this.#pending.size < 9998);
    return id;
  }

  #send(invokeId: number, xml: string): void {
    this.#socket?.write(encodeFrame(invokeId, xml));
  }

  /**
   * Send a request; resolves with its answer. Unanswered after `timeoutMs`, the link is dead
   * (`optional`: only this request fails — for what a switch may silently not implement).
   */
  #request(name: string, xml: string, timeoutMs = this.#o.requestTimeoutMs, optional = false): Promise<CstaMessage> {
    const socket = this.#socket;
    if (!socket || socket.destroyed) return Promise.reject(new LinkDown('not connected'));
    if (this.#pending.size >= 9998) return Promise.reject(new LinkDown('no free invoke id'));
    const id = this.#invokeId();
    const generation = this.#generation;
    return new Promise<CstaMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new LinkDown(`no answer to ${name} within ${timeoutMs} ms`));
        if (generation === this.#generation && !optional) this.#down(`the switch did not answer ${name} within ${timeoutMs} ms`);
      }, timeoutMs);
      timer.unref();
      this.#pending.set(id, { name, resolve, reject, timer });
      this.#send(id, xml);
    });
  }

  #receive(invokeId: number, msg: CstaMessage): void {
    // Speak the switch's edition: the namespace of what it sends (ed2 … ed5).
    if (msg.namespace !== undefined && msg.namespace !== this.#ns && CSTA_NAMESPACE.test(msg.namespace)) this.#ns = msg.namespace;
    this.#heard = true;
    if (invokeId === EVENT_INVOKE_ID) {
      this.#event(msg);
      return;
    }
    if (msg.name === 'SystemStatus') {
      this.#send(invokeId, systemStatusResponse(this.#ns));
      return;
    }
    const p = this.#pending.get(invokeId);
    if (p && (msg.name.endsWith('Response') || msg.name === 'CSTAErrorCode')) {
      this.#pending.delete(invokeId);
      clearTimeout(p.timer);
      p.resolve(msg);
      return;
    }
    this.#log.debug({ invokeId, message: msg.name }, p ? 'unexpected answer' : 'unsolicited message ignored');
  }

  #event(msg: CstaMessage): void {
    const ev = eventOf(msg);
    if (!ev) {
      this.#log.debug({ message: msg.name }, 'event without monitorCrossRefID ignored');
      return;
    }
    this.#events++;
    const number = this.#byXref.get(ev.monitorCrossRefId);
    const e = number !== undefined ? this.#ext.get(number) : undefined;
    if (!e) {
      this.#unmatched++;
      return;
    }
    if (ev.event === 'MonitorEnded' || ev.event === 'MonitorStopped') {
      // The switch ended the monitor: ask again.
      this.#byXref.delete(ev.monitorCrossRefId);
      e.xref = undefined;
      e.supervision = 'pending';
      e.callState = 'unknown';
      this.#release();
      this.#queueDirty = true;
      this.#pump();
      return;
    }
    e.events++;
    if (ev.state !== undefined) e.callState = ev.state;
    e.lastEvent = { name: ev.event, at: this.#o.now().toISOString(), ...(ev.cause !== undefined ? { cause: ev.cause } : {}) };
    this.#notify();
  }

  // ---- supervision -------------------------------------------------------------------

  /** Give free slots to waiting extensions (in number order) and keep `window` MonitorStarts in flight. */
  #pump(): void {
    if (this.#state === 'up') {
      if (this.#queueDirty) this.#assign();
      while (this.#queueAt < this.#queue.length && this.#inFlight < this.#o.window) {
        const n = this.#queue[this.#queueAt++]!;
        const e = this.#ext.get(n);
        if (!e || e.supervision !== 'pending' || this.#inFlightFor.has(n)) continue;
        this.#monitor(n);
      }
    }
    this.#notify();
  }

  /** Hand the free slots to the extensions waiting for one; the rest are over capacity. */
  #assign(): void {
    this.#queueDirty = false;
    const waiting: string[] = [];
    for (const [n, e] of this.#ext) {
      if ((e.supervision === 'pending' && !this.#inFlightFor.has(n)) || e.supervision === 'over-capacity') waiting.push(n);
    }
    waiting.sort(compareNumbers);
    const capacity = this.#o.capacity ?? Infinity;
    let used = this.#inFlightFor.size;
    for (const e of this.#ext.values()) if (e.supervision === 'monitored') used++;
    const free = Math.max(0, capacity - used);
    this.#overCapacity = waiting.length > free;
    for (let i = 0; i < waiting.length; i++) {
      const e = this.#ext.get(waiting[i]!)!;
      if (i < free) {
        e.supervision = 'pending';
        e.error = undefined;
      } else {
        e.supervision = 'over-capacity';
        e.error = `the link supervises at most ${capacity} extensions`;
      }
    }
    this.#queue = waiting.length > free ? waiting.slice(0, free) : waiting;
    this.#queueAt = 0;
  }

  /** A slot is free again (refused, ended): hand it out if someone waits for one. */
  #release(): void {
    if (this.#overCapacity) this.#queueDirty = true;
  }

  #monitor(number: string): void {
    this.#inFlight++;
    this.#inFlightFor.add(number);
    const generation = this.#generation;
    this.#request('MonitorStart', monitorStart(this.#ns, this.#device(number)))
      .then((answer) => {
        if (generation !== this.#generation) return;
        this.#inFlight--;
        this.#inFlightFor.delete(number);
        const e = this.#ext.get(number);
        const xref = answer.name === 'MonitorStartResponse' ? textAt(answer.body, 'monitorCrossRefID') : undefined;
        if (!e) {
          // No longer wanted while its MonitorStart was in flight.
          if (xref !== undefined) this.#request('MonitorStop', monitorStop(this.#ns, xref)).catch(() => undefined);
          this.#release();
          this.#pump();
          return;
        }
        if (xref !== undefined && xref !== '') {
          e.supervision = 'monitored';
          e.xref = xref;
          this.#byXref.set(xref, number);
          if (this.#o.snapshot && this.#snapshotsWork) {
            e.callState = 'unknown';
            this.#snapshots.push(number);
            this.#pumpSnapshots();
          } else e.callState = 'idle';
        } else {
          const err = errorOf(answer);
          e.supervision = 'refused';
          e.error = err ? `${err.category}: ${err.value}` : `unexpected answer ${answer.name}`;
          this.#release();
          this.#log.warn({ extension: number, error: e.error }, 'the switch refused to supervise an extension');
        }
        this.#pump();
      })
      .catch(() => {
        // The connection is going down; the reconnect asks again.
      });
  }

  /** Keep `window` SnapshotDevice requests in flight for the extensions just monitored. */
  #pumpSnapshots(): void {
    const generation = this.#generation;
    while (this.#snapshotsInFlight < this.#o.window && this.#snapshotAt < this.#snapshots.length) {
      const number = this.#snapshots[this.#snapshotAt++]!;
      const e = this.#ext.get(number);
      if (!e || e.supervision !== 'monitored') continue;
      if (!this.#snapshotsWork) {
        if (e.callState === 'unknown' && e.events === 0) e.callState = 'idle';
        continue;
      }
      const seen = e.events;
      this.#snapshotsInFlight++;
      const answered = (answer: CstaMessage | undefined) => {
        if (generation !== this.#generation) return;
        this.#snapshotsInFlight--;
        const state = answer && snapshotStateOf(answer);
        if (state === undefined && this.#snapshotsWork) {
          this.#snapshotsWork = false;
          this.#log.info({ answer: answer ? (errorOf(answer)?.value ?? answer.name) : 'none' }, 'the switch does not answer SnapshotDevice: extension states start idle and follow events');
        }
        // An event that came in meanwhile is newer than the snapshot.
        if (this.#ext.get(number) === e && e.supervision === 'monitored' && e.events === seen) e.callState = state ?? 'idle';
        this.#pumpSnapshots();
      };
      // Unanswered (a switch may ignore what it does not implement): no state from it, the link stays up.
      this.#request('SnapshotDevice', snapshotDevice(this.#ns, this.#device(number)), this.#o.requestTimeoutMs, true).then(answered, () => answered(undefined));
    }
    if (this.#snapshotAt > 1024 && this.#snapshotAt * 2 > this.#snapshots.length) {
      this.#snapshots = this.#snapshots.slice(this.#snapshotAt);
      this.#snapshotAt = 0;
    }
    this.#notify();
  }

  #device(number: string): string {
    return this.#o.pbxDomain ? `sip:${number}@${this.#o.pbxDomain}` : number;
  }

  #setState(state: LinkState, message: string | undefined): void {
    if (state !== this.#state) this.#since = this.#o.now();
    this.#state = state;
    this.#message = message;
    this.#notify();
  }

  #notify(): void {
    for (const l of this.#listeners) {
      try {
        l();
      } catch {
        // a listener's failure is not the link's
      }
    }
  }
}
