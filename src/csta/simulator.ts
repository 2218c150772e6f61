/**
 * A PBX simulator: the switch side of a CSTA link (ECMA-323 XML over TCP, ECMA-354 sessions),
 * on a real loopback socket. Client links are tested against it and the benchmark floods
 * through it; `npm run pbx-sim` puts it behind a small command line.
 *
 * It behaves as OpenScape Voice does (research notes: csta.md):
 * - on accept the switch sends `SystemStatus` first, as a request with an invoke id it allocates
 *   (1…9998, cycling per connection; 9999 is only ever used for events). Whatever the client
 *   answers (`SystemStatusResponse`, or any other response) is accepted silently;
 * - every client request is answered with its own invoke id echoed;
 * - events (invoke id 9999) go to every monitor of the devices involved, each with that
 *   monitor's `monitorCrossRefID`. Monitors belong to their connection and vanish with it;
 * - a connection whose framing or XML is broken is destroyed, as a real switch drops the link.
 *   Nothing is printed: what happens is reported through `onEvent`.
 *
 * Errors answered (`CSTAErrorCode`, category `operation`, values from ECMA-269 OperationErrors):
 * `invalidDeviceID` (MonitorStart / SnapshotDevice on a device the switch does not know),
 * `invalidCrossRefID` (MonitorStop of a cross-ref id this connection does not hold; the value every
 * edition has, where later ones also define `invalidMonitorCrossRefID`),
 * `securityViolation` (a request before the ECMA-354 session when credentials are required),
 * `serviceNotSupported` (any other request). Session errors use ECMA-354 `definedError`s:
 * `invalidApplicationInfo` (missing or wrong user/password), `requestedProtocolVersionNotSupported`
 * (none of the requested protocol versions is the simulator's namespace), `invalidSessionID`.
 *
 * Scale: monitors are indexed both ways (connection → cross-ref → device, device → cross-ref →
 * connection), so starting, stopping, routing an event and dropping a connection cost O(1) per
 * monitor. Replies to the frames of one socket chunk are corked into one write; when the socket's
 * write buffer is full the simulator stops reading that client until it drains.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { EVENT_INVOKE_ID, encodeFrame, FrameDecoder } from './frame.js';
import {
  buildMessage,
  connectionClearedEvent,
  CSTA_NS,
  cstaError,
  deliveredEvent,
  establishedEvent,
  monitorStartResponse,
  monitorStopResponse,
  normalizeDevice,
  parseMessage,
  APPL_SESSION_NS,
  resetApplicationSessionTimerPosResponse,
  serviceInitiatedEvent,
  startApplicationSessionNegResponse,
  startApplicationSessionPosResponse,
  systemRegisterResponse,
  systemStatus,
  systemStatusResponse,
  textAt,
  type CstaMessage,
  type XmlNode,
} from './messages.js';

export interface SimulatorOptions {
  /** Address to listen on; default '127.0.0.1' (loopback only). */
  readonly host?: string;
  /** Port to listen on; default 0 = ephemeral (read {@link PbxSimulator.port}). */
  readonly port?: number;
  /** CSTA namespace it answers in, default {@link CSTA_NS}.ed4. */
  readonly namespace?: string;
  /**
   * Devices the switch knows (compared after {@link normalizeDevice}); others are refused with
   * `<CSTAErrorCode><operation>invalidDeviceID</operation></CSTAErrorCode>`. Default: any all-digit number.
   */
  readonly devices?: readonly string[] | ((device: string) => boolean);
  /**
   * When set, the client must start an ECMA-354 session (StartApplicationSession with
   * applicationSpecificInfo user/password) before anything else; wrong credentials →
   * StartApplicationSessionNegResponse and the switch closes the connection; requests before a
   * session → CSTAErrorCode.
   */
  readonly credentials?: { readonly user: string; readonly password: string };
  /**
   * Seconds (actualSessionDuration), default 60. A started session that is not refreshed
   * (ResetApplicationSessionTimer) within it ends, and the switch closes the connection.
   */
  readonly sessionDuration?: number;
  /** Send SystemStatus (normal) every N ms as a heartbeat; default 0 = only the one at connect. */
  readonly systemStatusIntervalMs?: number;
  /** What happens on the switch, for a command line or a test; a throwing listener is ignored. */
  readonly onEvent?: (event: SimulatorEvent) => void;
}

/** Something that happened on the simulated switch. `connection` numbers start at 1. */
export type SimulatorEvent =
  | { readonly type: 'connection-opened'; readonly connection: number; readonly remote: string }
  | { readonly type: 'connection-closed'; readonly connection: number; readonly reason: string; readonly monitors: number }
  | { readonly type: 'session-started'; readonly connection: number; readonly sessionId: string }
  | { readonly type: 'session-refused'; readonly connection: number; readonly reason: string }
  | { readonly type: 'session-ended'; readonly connection: number; readonly sessionId: string; readonly reason: 'stopped' | 'expired' }
  | { readonly type: 'monitor-started' | 'monitor-stopped'; readonly connection: number; readonly device: string; readonly monitorCrossRefId: string; readonly monitors: number }
  | { readonly type: 'protocol-error'; readonly connection: number; readonly message: string };

/** Counters since the simulator started (restarts included). */
export interface SimulatorStats {
  framesIn: number;
  framesOut: number;
  bytesOut: number;
  monitorStarts: number;
  monitorStops: number;
  sessions: number;
  connectionsAccepted: number;
}

interface Connection {
  readonly id: number;
  readonly socket: net.Socket;
  readonly decoder: FrameDecoder;
  /** monitorCrossRefID → normalized device. */
  readonly monitors: Map<string, string>;
  nextInvokeId: number;
  session: string | undefined;
  sessionTimer: NodeJS.Timeout | undefined;
  /** Reading is paused until the socket drains. */
  paused: boolean;
  /** Set once the switch has decided to close this connection (or it closed): nothing more is read or sent. */
  closing: string | undefined;
}

interface Call {
  readonly from: string;
  readonly to: string;
  answered: boolean;
}

interface Waiter {
  readonly done: () => boolean;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** The highest invoke id the switch allocates for its own requests (9999 is for events). */
const MAX_REQUEST_INVOKE_ID = 9998;
const ALL_DIGITS = /^\d+$/;
/** Flood writes are batched into chunks of about this size. */
const FLOOD_CHUNK_BYTES = 64 * 1024;
/** After a refused session the switch half-closes; a client that never closes its side is cut after this. */
const LINGER_MS = 2_000;

/**
 * The simulated switch. One instance listens on one port; {@link restart} reopens the same port.
 * Not for production use: it trusts its clients' sizes and keeps every call in memory.
 */
export class PbxSimulator {
  readonly host: string;
  readonly stats: SimulatorStats = { framesIn: 0, framesOut: 0, bytesOut: 0, monitorStarts: 0, monitorStops: 0, sessions: 0, connectionsAccepted: 0 };

  readonly #namespace: string;
  readonly #knows: (device: string) => boolean;
  readonly #credentials: { readonly user: string; readonly password: string } | undefined;
  readonly #sessionSeconds: number;
  readonly #heartbeatMs: number;
  readonly #onEvent: ((event: SimulatorEvent) => void) | undefined;

  #server: net.Server | undefined;
  #port: number;
  #heartbeat: NodeJS.Timeout | undefined;
  #closed = false;
  #silent = false;
  readonly #connections = new Set<Connection>();
  /** device → (monitorCrossRefID → connection). */
  readonly #watchers = new Map<string, Map<string, Connection>>();
  readonly #calls = new Map<string, Call>();
  /** device → ids of the calls it is in (for SnapshotDevice). */
  readonly #callsOf = new Map<string, Set<string>>();
  #waiters: Waiter[] = [];
  #nextConnection = 1;
  #nextCrossRef = 1;
  #nextCall = 1;
  #nextSession = 1;
  #nextRegister = 1;

  private constructor(options: SimulatorOptions) {
    this.host = options.host ?? '127.0.0.1';
    this.#port = options.port ?? 0;
    this.#namespace = options.namespace ?? CSTA_NS.ed4;
    const devices = options.devices;
    if (devices === undefined) this.#knows = (d) => ALL_DIGITS.test(d);
    else if (typeof devices === 'function') this.#knows = devices;
    else {
      const known = new Set(devices.map(normalizeDevice));
      this.#knows = (d) => known.has(d);
    }
    this.#credentials = options.credentials;
    this.#sessionSeconds = options.sessionDuration ?? 60;
    this.#heartbeatMs = options.systemStatusIntervalMs ?? 0;
    this.#onEvent = options.onEvent;
  }

  /** A simulator listening on `host:port` (resolves once it listens). */
  static async start(options: SimulatorOptions = {}): Promise<PbxSimulator> {
    const sim = new PbxSimulator(options);
    await sim.#listen();
    if (sim.#heartbeatMs > 0) {
      sim.#heartbeat = setInterval(() => sim.#beat(), sim.#heartbeatMs);
      sim.#heartbeat.unref();
    }
    return sim;
  }

  /** The port listened on (kept across {@link restart}). */
  get port(): number {
    return this.#port;
  }

  /** Open client connections. */
  get connections(): number {
    return this.#connections.size;
  }

  /** Devices currently monitored (across connections), each with one of its monitorCrossRefIDs. */
  monitored(): ReadonlyMap<string, string> {
    const out = new Map<string, string>();
    for (const [device, xrefs] of this.#watchers) out.set(device, xrefs.keys().next().value as string);
    return out;
  }

  /** Resolves once `n` distinct devices are monitored (or rejects after `timeoutMs`). */
  waitForMonitors(n: number, timeoutMs = 10_000): Promise<void> {
    return this.#wait(() => this.#watchers.size >= n, timeoutMs, () => `${n} monitored devices (${this.#watchers.size} now)`);
  }

  /** Resolves when a client connection is open (and, with credentials, its session started). */
  waitForConnection(timeoutMs = 10_000): Promise<void> {
    return this.#wait(() => [...this.#connections].some((c) => this.#ready(c)), timeoutMs, () => (this.#credentials ? 'a connection with a started session' : 'a connection'));
  }

  // ---- calls --------------------------------------------------------------------------

  /** A call from `from` to `to`: ServiceInitiated (initiated) and Delivered (connected) to `from`'s monitors, Delivered (alerting) to `to`'s. Returns the callID. */
  call(from: string, to: string): string {
    const a = normalizeDevice(from);
    const b = normalizeDevice(to);
    const callId = String(this.#nextCall++);
    this.#calls.set(callId, { from: a, to: b, answered: false });
    for (const d of [a, b]) {
      let ids = this.#callsOf.get(d);
      if (!ids) this.#callsOf.set(d, (ids = new Set()));
      ids.add(callId);
    }
    const ns = this.#namespace;
    this.#notify(a, (xref) => serviceInitiatedEvent(ns, { monitorCrossRefId: xref, callId, device: a, localConnectionInfo: 'initiated' }));
    this.#notify(a, (xref) => deliveredEvent(ns, { monitorCrossRefId: xref, callId, device: a, localConnectionInfo: 'connected', calling: a, called: b }));
    this.#notify(b, (xref) => deliveredEvent(ns, { monitorCrossRefId: xref, callId, device: b, localConnectionInfo: 'alerting', calling: a, called: b }));
    return callId;
  }

  /** The called device answers: Established (connected) to both. Throws for an unknown or already answered call. */
  answer(callId: string): void {
    const call = this.#call(callId);
    if (call.answered) throw new Error(`call ${callId} is already answered`);
    call.answered = true;
    const ns = this.#namespace;
    for (const d of [call.from, call.to]) {
      this.#notify(d, (xref) => establishedEvent(ns, { monitorCrossRefId: xref, callId, device: d, localConnectionInfo: 'connected', calling: call.from, called: call.to }));
    }
  }

  /** The calling device hangs up: ConnectionCleared (null) to both; the call is gone. Throws for an unknown call. */
  hangup(callId: string): void {
    const call = this.#call(callId);
    this.#calls.delete(callId);
    const ns = this.#namespace;
    for (const d of [call.from, call.to]) {
      const ids = this.#callsOf.get(d);
      ids?.delete(callId);
      if (ids?.size === 0) this.#callsOf.delete(d);
      this.#notify(d, (xref) => connectionClearedEvent(ns, { monitorCrossRefId: xref, callId, device: d, localConnectionInfo: 'null', releasing: call.from }));
    }
  }

  #call(callId: string): Call {
    const call = this.#calls.get(callId);
    if (!call) throw new Error(`no call ${callId} on the simulator`);
    return call;
  }

  // ---- faults -------------------------------------------------------------------------

  /** Destroy every client connection now (listening continues). */
  drop(): void {
    for (const c of this.#connections) this.#destroy(c, 'dropped by the simulator');
  }

  /** While on, nothing is sent (answers, events, heartbeats) and requests are read and ignored; connections stay open. */
  silence(on: boolean): void {
    this.#silent = on;
  }

  /** Write raw bytes to every connection, even while silent (malformed-frame tests). */
  sendRaw(bytes: Buffer): void {
    for (const c of this.#connections) {
      if (c.closing !== undefined) continue;
      this.stats.bytesOut += bytes.length;
      this.#write(c, bytes);
    }
  }

  /** Close the listener and every connection, then listen again on the same port after `downMs`. */
  async restart(downMs = 0): Promise<void> {
    if (this.#closed) throw new Error('the simulator is closed');
    await this.#shutdown('simulator restarting');
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    if (this.#closed) return;
    await this.#listen();
  }

  /** Stop listening, close every connection; pending waits reject. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    for (const w of this.#waiters) {
      clearTimeout(w.timer);
      w.reject(new Error('the simulator was closed'));
    }
    this.#waiters = [];
    await this.#shutdown('simulator closed');
  }

  /**
   * Bench: `count` events (Delivered / Established / ConnectionCleared cycles, one call per
   * cycle) round-robin over the monitors of the first open connection, as fast as its socket
   * takes them (waiting for 'drain' when its buffer is full). Resolves once the last byte is
   * handed to the kernel; rejects when there is no monitor or the connection closes first.
   * Ignores {@link silence}.
   */
  async flood(count: number): Promise<{ readonly frames: number; readonly bytes: number; readonly ms: number }> {
    const conn = [...this.#connections].find((c) => c.closing === undefined);
    if (!conn) throw new Error('flood: no open connection');
    if (count <= 0) return { frames: 0, bytes: 0, ms: 0 };
    if (conn.monitors.size === 0) throw new Error(`flood: connection #${conn.id} monitors no device`);
    // Each event's XML is built once per monitor with a marker where the callID goes.
    const marker = 'FLOODCALLID';
    const ns = this.#namespace;
    const caller = '0123456789';
    const cycles = [...conn.monitors].map(([xref, device]) => {
      const p = { monitorCrossRefId: xref, callId: marker, device, calling: caller, called: device };
      return [
        deliveredEvent(ns, { ...p, localConnectionInfo: 'alerting' }),
        establishedEvent(ns, { ...p, localConnectionInfo: 'connected' }),
        connectionClearedEvent(ns, { ...p, localConnectionInfo: 'null', releasing: caller }),
      ].map((xml) => xml.split(marker));
    });
    const started = performance.now();
    let frames = 0;
    let bytes = 0;
    let batch: Buffer[] = [];
    let batchBytes = 0;
    let callId = '';
    const socket = conn.socket;
    const flush = async (last: boolean): Promise<void> => {
      if (conn.closing !== undefined || socket.destroyed) throw new Error(`flood: connection #${conn.id} closed after ${frames - batch.length} frames`);
      const chunk = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batchBytes);
      batch = [];
      batchBytes = 0;
      await new Promise<void>((resolve, reject) => {
        const onClose = () => {
          cleanup();
          reject(new Error(`flood: connection #${conn.id} closed during the flood`));
        };
        const onDrain = () => {
          cleanup();
          resolve();
        };
        const cleanup = () => {
          socket.off('close', onClose);
          socket.off('drain', onDrain);
        };
        socket.once('close', onClose);
        if (last) {
          socket.write(chunk, (err) => {
            cleanup();
            if (err) reject(err);
            else resolve();
          });
        } else if (socket.write(chunk)) {
          cleanup();
          resolve();
        } else socket.once('drain', onDrain);
      });
    };
    for (let i = 0; i < count; i++) {
      const phase = i % 3;
      if (phase === 0) callId = String(this.#nextCall++);
      const parts = cycles[Math.floor(i / 3) % cycles.length]![phase]!;
      const frame = encodeFrame(EVENT_INVOKE_ID, parts.join(callId));
      batch.push(frame);
      batchBytes += frame.length;
      frames++;
      bytes += frame.length;
      this.stats.framesOut++;
      this.stats.bytesOut += frame.length;
      if (batchBytes >= FLOOD_CHUNK_BYTES && i < count - 1) await flush(false);
    }
    await flush(true);
    return { frames, bytes, ms: performance.now() - started };
  }

  // ---- listening and connections ---------------------------------------------------------

  async #listen(): Promise<void> {
    const server = net.createServer({ noDelay: true }, (socket) => this.#accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.host, port: this.#port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // Accept errors after listening (e.g. out of file descriptors) must not crash the process.
    server.on('error', () => {});
    this.#port = (server.address() as net.AddressInfo).port;
    this.#server = server;
  }

  async #shutdown(reason: string): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const c of this.#connections) this.#destroy(c, reason);
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #accept(socket: net.Socket): void {
    if (this.#closed || !this.#server) {
      socket.destroy();
      return;
    }
    const conn: Connection = { id: this.#nextConnection++, socket, decoder: new FrameDecoder(), monitors: new Map(), nextInvokeId: 1, session: undefined, sessionTimer: undefined, paused: false, closing: undefined };
    this.#connections.add(conn);
    this.stats.connectionsAccepted++;
    socket.on('error', (err) => {
      conn.closing ??= `socket error: ${err.message}`;
    });
    socket.on('close', () => this.#closedConnection(conn));
    socket.on('data', (chunk: Buffer) => this.#receive(conn, chunk));
    this.#emit({ type: 'connection-opened', connection: conn.id, remote: `${socket.remoteAddress}:${socket.remotePort}` });
    this.#request(conn, systemStatus(this.#namespace));
    this.#settle();
  }

  #closedConnection(conn: Connection): void {
    conn.closing ??= 'closed by the client';
    clearTimeout(conn.sessionTimer);
    const monitors = conn.monitors.size;
    this.#forgetMonitors(conn);
    this.#connections.delete(conn);
    this.#emit({ type: 'connection-closed', connection: conn.id, reason: conn.closing, monitors });
  }

  #forgetMonitors(conn: Connection): void {
    for (const [xref, device] of conn.monitors) {
      const xrefs = this.#watchers.get(device);
      xrefs?.delete(xref);
      if (xrefs?.size === 0) this.#watchers.delete(device);
    }
    conn.monitors.clear();
  }

  #destroy(conn: Connection, reason: string): void {
    conn.closing ??= reason;
    conn.socket.destroy();
  }

  /** Send what is queued, then close (the client sees the answer before the close). */
  #end(conn: Connection, reason: string): void {
    conn.closing ??= reason;
    conn.socket.end();
    setTimeout(() => conn.socket.destroy(), LINGER_MS).unref();
  }

  #ready(conn: Connection): boolean {
    return conn.closing === undefined && (this.#credentials === undefined || conn.session !== undefined);
  }

  #receive(conn: Connection, chunk: Buffer): void {
    if (conn.closing !== undefined) return;
    const socket = conn.socket;
    socket.cork();
    try {
      for (const frame of conn.decoder.push(chunk)) {
        this.stats.framesIn++;
        if (this.#silent) continue;
        this.#handle(conn, frame.invokeId, parseMessage(frame.xml));
        if (conn.closing !== undefined) break;
      }
    } catch (e) {
      // FrameError, CstaXmlError, or a bug answering: the link cannot be trusted any more.
      const message = e instanceof Error ? e.message : String(e);
      this.#emit({ type: 'protocol-error', connection: conn.id, message });
      this.#destroy(conn, `protocol error: ${message}`);
    } finally {
      if (!socket.destroyed) socket.uncork();
    }
  }

  // ---- answering ---------------------------------------------------------------------------

  #handle(conn: Connection, invokeId: number, msg: CstaMessage): void {
    const ns = this.#namespace;
    const reply = (xml: string) => this.#send(conn, invokeId, xml);
    // Answers to the switch's own requests (SystemStatus): accepted silently.
    if (msg.name.endsWith('Response') || msg.name === 'CSTAErrorCode') return;
    if (msg.name === 'StartApplicationSession') return this.#startSession(conn, msg, reply);
    if (this.#credentials !== undefined && conn.session === undefined) return reply(cstaError(ns, 'operation', 'securityViolation'));
    switch (msg.name) {
      case 'SystemStatus':
        return reply(systemStatusResponse(ns));
      case 'SystemRegister':
        return reply(systemRegisterResponse(ns, String(this.#nextRegister++)));
      case 'ResetApplicationSessionTimer': {
        if (conn.session === undefined || textAt(msg.body, 'sessionID') !== conn.session) return reply(sessionNegResponse('ResetApplicationSessionTimerNegResponse', 'invalidSessionID'));
        this.#armSession(conn);
        return reply(resetApplicationSessionTimerPosResponse(this.#sessionSeconds));
      }
      case 'StopApplicationSession': {
        const sessionId = conn.session;
        if (sessionId === undefined || textAt(msg.body, 'sessionID') !== sessionId) return reply(sessionNegResponse('StopApplicationSessionNegResponse', 'invalidSessionID'));
        // The session's monitors end with it (ECMA-354: they belong to the application association).
        this.#endSession(conn);
        this.#forgetMonitors(conn);
        this.#emit({ type: 'session-ended', connection: conn.id, sessionId, reason: 'stopped' });
        return reply(buildMessage('StopApplicationSessionPosResponse', APPL_SESSION_NS));
      }
      case 'MonitorStart': {
        const raw = textAt(msg.body, 'monitorObject', 'deviceObject');
        const device = raw === undefined ? '' : normalizeDevice(raw);
        if (device === '' || !this.#knows(device)) return reply(cstaError(ns, 'operation', 'invalidDeviceID'));
        const xref = String(this.#nextCrossRef++);
        conn.monitors.set(xref, device);
        let xrefs = this.#watchers.get(device);
        if (!xrefs) this.#watchers.set(device, (xrefs = new Map()));
        xrefs.set(xref, conn);
        this.stats.monitorStarts++;
        reply(monitorStartResponse(ns, xref));
        this.#emit({ type: 'monitor-started', connection: conn.id, device, monitorCrossRefId: xref, monitors: conn.monitors.size });
        return this.#settle();
      }
      case 'MonitorStop': {
        const xref = textAt(msg.body, 'monitorCrossRefID') ?? '';
        const device = conn.monitors.get(xref);
        if (device === undefined) return reply(cstaError(ns, 'operation', 'invalidCrossRefID'));
        conn.monitors.delete(xref);
        const xrefs = this.#watchers.get(device)!;
        xrefs.delete(xref);
        if (xrefs.size === 0) this.#watchers.delete(device);
        this.stats.monitorStops++;
        reply(monitorStopResponse(ns));
        this.#emit({ type: 'monitor-stopped', connection: conn.id, device, monitorCrossRefId: xref, monitors: conn.monitors.size });
        return;
      }
      case 'SnapshotDevice': {
        const raw = textAt(msg.body, 'snapshotObject');
        const device = raw === undefined ? '' : normalizeDevice(raw);
        if (device === '' || !this.#knows(device)) return reply(cstaError(ns, 'operation', 'invalidDeviceID'));
        return reply(this.#snapshot(device));
      }
      default:
        return reply(cstaError(ns, 'operation', 'serviceNotSupported'));
    }
  }

  #startSession(conn: Connection, msg: CstaMessage, reply: (xml: string) => void): void {
    const refuse = (reason: string) => {
      reply(startApplicationSessionNegResponse(reason));
      this.#emit({ type: 'session-refused', connection: conn.id, reason });
      this.#end(conn, `session refused: ${reason}`);
    };
    const requested = textsAt(msg.body, 'requestedProtocolVersions', 'protocolVersion');
    if (requested.length > 0 && !requested.includes(this.#namespace)) return refuse('requestedProtocolVersionNotSupported');
    if (this.#credentials) {
      const info = (name: string) => textAt(msg.body, 'applicationInfo', 'applicationSpecificInfo', name) ?? textAt(msg.body, 'applicationSpecificInfo', name);
      if (info('user') !== this.#credentials.user || info('password') !== this.#credentials.password) return refuse('invalidApplicationInfo');
    }
    if (conn.session !== undefined) this.#endSession(conn);
    const sessionId = String(this.#nextSession++).padStart(9, '0');
    conn.session = sessionId;
    this.#armSession(conn);
    this.stats.sessions++;
    reply(startApplicationSessionPosResponse(sessionId, this.#namespace, this.#sessionSeconds));
    this.#emit({ type: 'session-started', connection: conn.id, sessionId });
    this.#settle();
  }

  #armSession(conn: Connection): void {
    clearTimeout(conn.sessionTimer);
    const expire = () => {
      const sessionId = conn.session;
      if (sessionId === undefined || conn.closing !== undefined) return;
      // A silenced switch neither hears the refresh nor ends the session.
      if (this.#silent) {
        conn.sessionTimer = setTimeout(expire, this.#sessionSeconds * 1000).unref();
        return;
      }
      this.#emit({ type: 'session-ended', connection: conn.id, sessionId, reason: 'expired' });
      this.#destroy(conn, `session ${sessionId} expired`);
    };
    conn.sessionTimer = setTimeout(expire, this.#sessionSeconds * 1000).unref();
  }

  #endSession(conn: Connection): void {
    clearTimeout(conn.sessionTimer);
    conn.sessionTimer = undefined;
    conn.session = undefined;
  }

  /**
   * `<snapshotData/>` for an idle device; one `snapshotDeviceResponseInfo` (connection and local
   * connection state) per call it is in. The per-call shape follows ECMA-323's
   * SnapshotDeviceResponseInfo as read from the standard's structure, not from a capture.
   */
  #snapshot(device: string): string {
    const infos = [...(this.#callsOf.get(device) ?? [])].map((callId) => {
      const call = this.#calls.get(callId)!;
      const state = call.answered || call.from === device ? 'connected' : 'alerting';
      return { connectionIdentifier: { callID: callId, deviceID: device }, localCallState: { compoundCallState: { localConnectionState: state } } };
    });
    return buildMessage('SnapshotDeviceResponse', this.#namespace, { crossRefIDorSnapshotData: { snapshotData: infos.length > 0 ? { snapshotDeviceResponseInfo: infos } : '' } });
  }

  // ---- sending -------------------------------------------------------------------------------

  /** A request of the switch's own, with the next invoke id of this connection (1…9998). */
  #request(conn: Connection, xml: string): void {
    const invokeId = conn.nextInvokeId;
    conn.nextInvokeId = (invokeId % MAX_REQUEST_INVOKE_ID) + 1;
    this.#send(conn, invokeId, xml);
  }

  #send(conn: Connection, invokeId: number, xml: string): void {
    if (this.#silent || conn.closing !== undefined) return;
    const frame = encodeFrame(invokeId, xml);
    this.stats.framesOut++;
    this.stats.bytesOut += frame.length;
    this.#write(conn, frame);
  }

  /** Write; when the socket's buffer is full, stop reading this client until it drains. */
  #write(conn: Connection, bytes: Buffer): void {
    const socket = conn.socket;
    if (socket.write(bytes) || conn.paused) return;
    conn.paused = true;
    socket.pause();
    socket.once('drain', () => {
      conn.paused = false;
      if (!socket.destroyed) socket.resume();
    });
  }

  #notify(device: string, build: (monitorCrossRefId: string) => string): void {
    const xrefs = this.#watchers.get(device);
    if (!xrefs) return;
    for (const [xref, conn] of xrefs) this.#send(conn, EVENT_INVOKE_ID, build(xref));
  }

  #beat(): void {
    if (this.#silent || this.#connections.size === 0) return;
    const xml = systemStatus(this.#namespace);
    for (const c of this.#connections) this.#request(c, xml);
  }

  #emit(event: SimulatorEvent): void {
    if (!this.#onEvent) return;
    try {
      this.#onEvent(event);
    } catch {
      // a listener's failure is not the switch's
    }
  }

  // ---- waiting -------------------------------------------------------------------------------

  #wait(done: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
    if (done()) return Promise.resolve();
    if (this.#closed) return Promise.reject(new Error('the simulator is closed'));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        done,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`));
        }, timeoutMs),
      };
      this.#waiters.push(waiter);
    });
  }

  /** Resolve the waits whose condition now holds. */
  #settle(): void {
    if (this.#waiters.length === 0) return;
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.done()) return true;
      clearTimeout(w.timer);
      w.resolve();
      return false;
    });
  }
}

/** An ECMA-354 `…NegResponse` with a defined error. */
function sessionNegResponse(name: string, definedError: string): string {
  return buildMessage(name, APPL_SESSION_NS, { errorCode: { definedError } });
}

/** The texts of every element at a path (the last step may repeat). */
function textsAt(node: XmlNode | undefined, ...path: string[]): string[] {
  let n: XmlNode | readonly XmlNode[] | undefined = node;
  for (const p of path) {
    if (n === undefined || typeof n === 'string') return [];
    if (Array.isArray(n)) n = n[0] as XmlNode | undefined;
    if (n === undefined || typeof n === 'string') return [];
    n = (n as { readonly [name: string]: XmlNode | readonly XmlNode[] })[p];
  }
  const all = n === undefined ? [] : Array.isArray(n) ? (n as readonly XmlNode[]) : [n as XmlNode];
  return all.map((x) => (typeof x === 'string' ? x : typeof x['#text'] === 'string' ? x['#text'] : ''));
}

/**
 * A device list as the command line takes it: comma-separated numbers and inclusive ranges,
 * e.g. `2000-2999,3100`. A range matches all-digit numbers of its bounds' length between them.
 * Throws on a malformed item.
 */
export function parseDeviceRanges(spec: string): (device: string) => boolean {
  const exact = new Set<string>();
  const ranges: { lo: bigint; hi: bigint; minLength: number; maxLength: number }[] = [];
  for (const item of spec.split(',').map((s) => s.trim())) {
    if (item === '') continue;
    const range = /^(\d+)\s*-\s*(\d+)$/.exec(item);
    if (range) {
      const lo = BigInt(range[1]!);
      const hi = BigInt(range[2]!);
      if (lo > hi) throw new Error(`device range '${item}' runs backwards`);
      ranges.push({ lo, hi, minLength: range[1]!.length, maxLength: range[2]!.length });
    } else if (/^\+?[\w.*#-]+$/.test(item)) exact.add(item);
    else throw new Error(`'${item}' is neither a device number nor a range FROM-TO`);
  }
  if (exact.size === 0 && ranges.length === 0) throw new Error(`no device in '${spec}'`);
  return (device) => {
    if (exact.has(device)) return true;
    if (!ALL_DIGITS.test(device)) return false;
    const n = BigInt(device);
    return ranges.some((r) => device.length >= r.minLength && device.length <= r.maxLength && n >= r.lo && n <= r.hi);
  };
}
