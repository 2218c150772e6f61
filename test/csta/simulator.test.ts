/**
 * The PBX simulator over real TCP on loopback: the client side is a plain `net` socket with the
 * project's FrameDecoder, so every assertion is about bytes on the wire.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeFrame, EVENT_INVOKE_ID, FrameDecoder } from '../../src/csta/frame.js';
import {
  CSTA_NS,
  errorOf,
  eventOf,
  monitorStart,
  monitorStop,
  parseMessage,
  resetApplicationSessionTimer,
  startApplicationSession,
  stopApplicationSession,
  systemRegister,
  systemStatus,
  systemStatusResponse,
  textAt,
  type CstaMessage,
} from '../../src/csta/messages.js';
import { parseDeviceRanges, PbxSimulator, type SimulatorEvent, type SimulatorOptions } from '../../src/csta/simulator.js';

const NS = CSTA_NS.ed4;

interface Received {
  readonly invokeId: number;
  readonly msg: CstaMessage;
  readonly bytes: number;
}

/** The application side of a link, bare: frames in, frames out, nothing else. */
class Client {
  readonly raw: Buffer[] = [];
  readonly closed: Promise<void>;
  #decoder = new FrameDecoder();
  #inbox: Received[] = [];
  #wake: (() => void) | undefined;
  #isClosed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.raw.push(chunk);
      try {
        for (const f of this.#decoder.push(chunk)) this.#inbox.push({ invokeId: f.invokeId, msg: parseMessage(f.xml), bytes: 8 + Buffer.byteLength(f.xml) });
      } catch {
        this.#decoder = new FrameDecoder(); // raw garbage from sendRaw: the test reads `raw`
      }
      this.#wake?.();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.#isClosed = true;
        this.#wake?.();
        resolve();
      }),
    );
  }

  static connect(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.off('error', reject);
        resolve(new Client(socket));
      });
      socket.once('error', reject);
    });
  }

  send(invokeId: number, xml: string): void {
    this.socket.write(encodeFrame(invokeId, xml));
  }

  get pending(): number {
    return this.#inbox.length;
  }

  /** The next frame received (in order). */
  async next(timeoutMs = 5_000): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    while (this.#inbox.length === 0) {
      if (this.#isClosed) throw new Error('connection closed while waiting for a frame');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no frame within the timeout');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = undefined;
    }
    return this.#inbox.shift()!;
  }

  /** Send a request and read the next frame, which must answer it. */
  async ask(invokeId: number, xml: string): Promise<Received> {
    this.send(invokeId, xml);
    const r = await this.next();
    expect(r.invokeId).toBe(invokeId);
    return r;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Poll a condition on the simulator's state (no fixed sleeps). */
async function until(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met within the timeout');
    await new Promise((r) => setTimeout(r, 2));
  }
}

const sims: PbxSimulator[] = [];
const clients: Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function simulator(options: SimulatorOptions = {}): Promise<PbxSimulator> {
  const sim = await PbxSimulator.start(options);
  sims.push(sim);
  return sim;
}

async function connect(sim: PbxSimulator): Promise<Client> {
  const c = await Client.connect(sim.port);
  clients.push(c);
  return c;
}

/** Connect, read the switch's SystemStatus and answer it, as OpenScape Voice expects. */
async function linked(sim: PbxSimulator): Promise<Client> {
  const c = await connect(sim);
  const first = await c.next();
  expect(first.msg.name).toBe('SystemStatus');
  c.send(first.invokeId, systemStatusResponse(NS));
  return c;
}

/** MonitorStart each device; the cross-ref ids in order. */
async function monitor(c: Client, devices: string[], firstId = 100): Promise<string[]> {
  const xrefs: string[] = [];
  for (const [i, d] of devices.entries()) {
    const r = await c.ask(firstId + i, monitorStart(NS, d));
    expect(r.msg.name).toBe('MonitorStartResponse');
    xrefs.push(textAt(r.msg.body, 'monitorCrossRefID')!);
  }
  return xrefs;
}

const errorValue = (r: Received) => errorOf(r.msg);

describe('PbxSimulator: start-up and requests', () => {
  it('sends SystemStatus first with an invoke id of its own (never 9999), then answers requests echoing their invoke ids', async () => {
    const sim = await simulator();
    expect(sim.host).toBe('127.0.0.1');
    expect(sim.port).toBeGreaterThan(0);
    const c = await connect(sim);
    await sim.waitForConnection();
    expect(sim.connections).toBe(1);
    const first = await c.next();
    expect(first.msg).toMatchObject({ name: 'SystemStatus', namespace: NS });
    expect(textAt(first.msg.body, 'systemStatus')).toBe('normal');
    expect(first.invokeId).toBeGreaterThanOrEqual(1);
    expect(first.invokeId).toBeLessThan(EVENT_INVOKE_ID);
    c.send(first.invokeId, systemStatusResponse(NS)); // accepted silently: the next frame answers the next request
    expect((await c.ask(7, systemStatus(NS))).msg.name).toBe('SystemStatusResponse');
    const reg = await c.ask(8, systemRegister(CSTA_NS.ed2));
    expect(reg.msg.name).toBe('SystemRegisterResponse');
    expect(textAt(reg.msg.body, 'sysStatRegisterID')).toMatch(/^\d+$/);
    const snap = await c.ask(9, `<SnapshotDevice xmlns="${CSTA_NS.ed5}"><snapshotObject>2001</snapshotObject></SnapshotDevice>`);
    expect(snap.msg.name).toBe('SnapshotDeviceResponse');
    expect(textAt(snap.msg.body, 'crossRefIDorSnapshotData', 'snapshotData')).toBe('');
    expect(errorValue(await c.ask(10, `<MakeCall xmlns="${NS}"><callingDevice>2001</callingDevice><calledDirectoryNumber>2002</calledDirectoryNumber></MakeCall>`))).toEqual({ category: 'operation', value: 'serviceNotSupported' });
    expect(sim.stats).toMatchObject({ connectionsAccepted: 1, framesIn: 5, framesOut: 5 });
  });

  it('sends a heartbeat SystemStatus every systemStatusIntervalMs, with fresh invoke ids', async () => {
    const sim = await simulator({ systemStatusIntervalMs: 20 });
    const c = await connect(sim);
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await c.next();
      expect(r.msg.name).toBe('SystemStatus');
      ids.push(r.invokeId);
      c.send(r.invokeId, systemStatusResponse(NS));
    }
    expect(new Set(ids).size).toBe(3);
    expect(ids.every((id) => id >= 1 && id <= 9998)).toBe(true);
  });

  it('answers MonitorStart with distinct cross-ref ids, refuses unknown devices, stops monitors', async () => {
    const sim = await simulator({ devices: ['2001', '2002', '302118840100'] });
    const c = await linked(sim);
    const a = await c.ask(11, monitorStart(NS, '2001'));
    const b = await c.ask(12, `<MonitorStart xmlns="${NS}"><monitorObject><deviceObject typeOfNumber="dialingNumber">N&lt;302118840100&gt;;noa=nk</deviceObject></monitorObject></MonitorStart>`);
    const xa = textAt(a.msg.body, 'monitorCrossRefID');
    const xb = textAt(b.msg.body, 'monitorCrossRefID');
    expect(xa).toBeTruthy();
    expect(xb).toBeTruthy();
    expect(xa).not.toBe(xb);
    expect(errorValue(await c.ask(13, monitorStart(NS, '9999')))).toEqual({ category: 'operation', value: 'invalidDeviceID' });
    expect(errorValue(await c.ask(14, `<MonitorStart xmlns="${NS}"><monitorObject/></MonitorStart>`))?.value).toBe('invalidDeviceID');
    expect(errorValue(await c.ask(15, `<SnapshotDevice xmlns="${NS}"><snapshotObject>1234</snapshotObject></SnapshotDevice>`))?.value).toBe('invalidDeviceID');
    expect([...sim.monitored()]).toEqual([
      ['2001', xa],
      ['302118840100', xb],
    ]);
    expect((await c.ask(16, monitorStop(NS, xa!))).msg.name).toBe('MonitorStopResponse');
    expect(errorValue(await c.ask(17, monitorStop(NS, xa!)))).toEqual({ category: 'operation', value: 'invalidCrossRefID' });
    expect([...sim.monitored().keys()]).toEqual(['302118840100']);
    expect(sim.stats).toMatchObject({ monitorStarts: 2, monitorStops: 1 });
  });

  it('takes any all-digit device by default, or a predicate', async () => {
    const sim = await simulator();
    const c = await linked(sim);
    expect((await c.ask(1, monitorStart(NS, 'sip:455455@ser.intern.snom.de'))).msg.name).toBe('MonitorStartResponse');
    expect(errorValue(await c.ask(2, monitorStart(NS, 'reception')))?.value).toBe('invalidDeviceID');
    const odd = await simulator({ devices: (d) => Number(d) % 2 === 1 });
    const o = await linked(odd);
    expect((await o.ask(1, monitorStart(NS, '2001'))).msg.name).toBe('MonitorStartResponse');
    expect(errorValue(await o.ask(2, monitorStart(NS, '2002')))?.value).toBe('invalidDeviceID');
  });

  it('parses device lists with ranges', () => {
    const known = parseDeviceRanges('2000-2999, 3100,+33123');
    expect(['2000', '2500', '2999', '3100', '+33123'].every(known)).toBe(true);
    expect(['1999', '3000', '310', '02500', 'abc', '3101'].some(known)).toBe(false);
    expect(() => parseDeviceRanges('3000-2000')).toThrow(/backwards/);
    expect(() => parseDeviceRanges('20 00')).toThrow(/neither/);
    expect(() => parseDeviceRanges(',')).toThrow(/no device/);
  });
});

describe('PbxSimulator: ECMA-354 sessions', () => {
  const credentials = { user: 'cti', password: 'secret' };
  const session = (user?: string, password?: string) => startApplicationSession({ applicationId: 'switchboard', user, password, protocol: NS, duration: 60 });

  it('refuses a missing or wrong login with StartApplicationSessionNegResponse and closes the connection', async () => {
    const sim = await simulator({ credentials });
    for (const [user, password] of [[undefined, undefined], ['cti', 'wrong'], ['root', 'secret']] as const) {
      const c = await linked(sim);
      const r = await c.ask(1, session(user, password));
      expect(r.msg.name).toBe('StartApplicationSessionNegResponse');
      expect(textAt(r.msg.body, 'errorCode', 'definedError')).toBe('invalidApplicationInfo');
      await c.closed;
    }
    expect(sim.stats.sessions).toBe(0);
    await until(() => sim.connections === 0);
  });

  it('refuses requests before the session, then serves after a good login; refreshes and stops sessions', async () => {
    const events: SimulatorEvent[] = [];
    const sim = await simulator({ credentials, sessionDuration: 120, onEvent: (e) => events.push(e) });
    const c = await linked(sim);
    const connected = sim.waitForConnection();
    expect(errorValue(await c.ask(1, monitorStart(NS, '2001')))).toEqual({ category: 'operation', value: 'securityViolation' });
    const pos = await c.ask(2, session('cti', 'secret'));
    expect(pos.msg.name).toBe('StartApplicationSessionPosResponse');
    const sessionId = textAt(pos.msg.body, 'sessionID')!;
    expect(sessionId).toMatch(/^\d{9}$/);
    expect(textAt(pos.msg.body, 'actualProtocolVersion')).toBe(NS);
    expect(textAt(pos.msg.body, 'actualSessionDuration')).toBe('120');
    await connected;
    expect(sim.stats.sessions).toBe(1);
    await monitor(c, ['2001', '2002']);
    const reset = await c.ask(3, resetApplicationSessionTimer(sessionId, 120));
    expect(reset.msg.name).toBe('ResetApplicationSessionTimerPosResponse');
    expect(textAt(reset.msg.body, 'actualSessionDuration')).toBe('120');
    expect((await c.ask(4, resetApplicationSessionTimer('000000000', 120))).msg.name).toBe('ResetApplicationSessionTimerNegResponse');
    expect((await c.ask(5, stopApplicationSession(sessionId))).msg.name).toBe('StopApplicationSessionPosResponse');
    expect(sim.monitored().size).toBe(0);
    expect(errorValue(await c.ask(6, systemStatus(NS)))?.value).toBe('securityViolation');
    expect(events.map((e) => e.type)).toEqual(['connection-opened', 'session-started', 'monitor-started', 'monitor-started', 'session-ended']);
  });

  it('refuses a session in a protocol version it does not speak', async () => {
    const sim = await simulator({ namespace: CSTA_NS.ed5 });
    const c = await linked(sim);
    const r = await c.ask(1, startApplicationSession({ applicationId: 'x', protocol: CSTA_NS.ed4, duration: 60 }));
    expect(textAt(r.msg.body, 'errorCode', 'definedError')).toBe('requestedProtocolVersionNotSupported');
    await c.closed;
  });

  it('ends a session that is not refreshed in time by closing the connection', async () => {
    const sim = await simulator({ sessionDuration: 0.05 });
    const c = await linked(sim);
    expect((await c.ask(1, startApplicationSession({ applicationId: 'x', protocol: NS, duration: 1 }))).msg.name).toBe('StartApplicationSessionPosResponse');
    await c.closed;
  });
});

describe('PbxSimulator: calls', () => {
  it('sends Delivered / Established / ConnectionCleared (invoke id 9999) to every monitor of the devices involved', async () => {
    const sim = await simulator();
    const a = await linked(sim);
    const b = await linked(sim);
    const [a2001] = await monitor(a, ['2001']);
    const [b2002, b2001] = await monitor(b, ['2002', '2001']);
    await sim.waitForMonitors(2);

    const callId = sim.call('2001', '2002');
    const seen = async (c: Client, n: number) => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        const r = await c.next();
        expect(r.invokeId).toBe(EVENT_INVOKE_ID);
        const e = eventOf(r.msg)!;
        expect(e.callId).toBe(callId);
        out.push(`${e.event}@${e.monitorCrossRefId}:${textAt(r.msg.body, 'localConnectionInfo')}`);
      }
      return out;
    };
    expect(await seen(a, 2)).toEqual([`ServiceInitiated@${a2001}:initiated`, `Delivered@${a2001}:connected`]);
    expect(await seen(b, 3)).toEqual([`ServiceInitiated@${b2001}:initiated`, `Delivered@${b2001}:connected`, `Delivered@${b2002}:alerting`]);

    const snap = await b.ask(50, `<SnapshotDevice xmlns="${NS}"><snapshotObject>2002</snapshotObject></SnapshotDevice>`);
    expect(textAt(snap.msg.body, 'crossRefIDorSnapshotData', 'snapshotData', 'snapshotDeviceResponseInfo', 'connectionIdentifier', 'callID')).toBe(callId);
    expect(textAt(snap.msg.body, 'crossRefIDorSnapshotData', 'snapshotData', 'snapshotDeviceResponseInfo', 'localCallState', 'compoundCallState', 'localConnectionState')).toBe('alerting');

    sim.answer(callId);
    expect(await seen(a, 1)).toEqual([`Established@${a2001}:connected`]);
    expect(await seen(b, 2)).toEqual([`Established@${b2001}:connected`, `Established@${b2002}:connected`]);
    expect(() => sim.answer(callId)).toThrow(/already answered/);

    sim.hangup(callId);
    expect(await seen(a, 1)).toEqual([`ConnectionCleared@${a2001}:null`]);
    expect(await seen(b, 2)).toEqual([`ConnectionCleared@${b2001}:null`, `ConnectionCleared@${b2002}:null`]);
    expect(() => sim.hangup(callId)).toThrow(/no call/);

    const idle = await b.ask(51, `<SnapshotDevice xmlns="${NS}"><snapshotObject>2002</snapshotObject></SnapshotDevice>`);
    expect(textAt(idle.msg.body, 'crossRefIDorSnapshotData', 'snapshotData')).toBe('');
  });

  it('calls between unmonitored devices send nothing; a second call gets a new callID', async () => {
    const sim = await simulator();
    const a = await linked(sim);
    await monitor(a, ['2001']);
    const first = sim.call('3001', '3002');
    const second = sim.call('3003', '2001');
    expect(second).not.toBe(first);
    const r = await a.next();
    expect(eventOf(r.msg)).toMatchObject({ event: 'Delivered', callId: second, state: 'ringing' });
  });
});

describe('PbxSimulator: faults', () => {
  it('drop() closes every connection and keeps listening', async () => {
    const sim = await simulator();
    const a = await linked(sim);
    const b = await linked(sim);
    await monitor(a, ['2001']);
    sim.drop();
    await Promise.all([a.closed, b.closed]);
    await until(() => sim.connections === 0 && sim.monitored().size === 0);
    const c = await linked(sim);
    expect((await c.ask(1, systemStatus(NS))).msg.name).toBe('SystemStatusResponse');
  });

  it('silence(true) sends and answers nothing while reading; silence(false) resumes', async () => {
    const sim = await simulator();
    const c = await linked(sim);
    const [xref] = await monitor(c, ['2001']);
    sim.silence(true);
    const framesIn = sim.stats.framesIn;
    c.send(1, systemStatus(NS));
    c.send(2, monitorStart(NS, '2002'));
    sim.call('2001', '2002');
    await until(() => sim.stats.framesIn === framesIn + 2);
    sim.silence(false);
    const callId = sim.call('2002', '2001');
    const e = await c.next();
    expect(eventOf(e.msg)).toMatchObject({ event: 'Delivered', callId, monitorCrossRefId: xref });
    expect((await c.ask(3, systemStatus(NS))).msg.name).toBe('SystemStatusResponse');
    expect(sim.connections).toBe(1);
    expect([...sim.monitored().keys()]).toEqual(['2001']);
  });

  it('restart() closes everything, refuses connections while down, and listens again on the same port', async () => {
    const sim = await simulator();
    const port = sim.port;
    const c = await linked(sim);
    await monitor(c, ['2001', '2002']);
    const restarted = sim.restart(300);
    await c.closed;
    await expect(Client.connect(port)).rejects.toThrow(/ECONNREFUSED/);
    await restarted;
    expect(sim.port).toBe(port);
    expect(sim.monitored().size).toBe(0);
    const again = await linked(sim);
    const [xref] = await monitor(again, ['2001']);
    expect(sim.monitored().get('2001')).toBe(xref);
    expect(sim.stats.connectionsAccepted).toBe(2);
  });

  it('monitors vanish when their connection closes; other connections keep theirs', async () => {
    const sim = await simulator();
    const a = await linked(sim);
    const b = await linked(sim);
    await monitor(a, ['2001', '2002', '2003']);
    const [b2001] = await monitor(b, ['2001']);
    await sim.waitForMonitors(3);
    a.close();
    await until(() => sim.connections === 1);
    expect([...sim.monitored()]).toEqual([['2001', b2001]]);
  });

  it('sendRaw() writes bytes verbatim to every connection', async () => {
    const sim = await simulator();
    const a = await linked(sim);
    const b = await linked(sim);
    sim.sendRaw(encodeFrame(1234, `<SystemStatus xmlns="${NS}"><systemStatus>disabled</systemStatus></SystemStatus>`));
    for (const c of [a, b]) {
      const r = await c.next();
      expect(r.invokeId).toBe(1234);
      expect(textAt(r.msg.body, 'systemStatus')).toBe('disabled');
    }
    const before = Buffer.concat(a.raw).length;
    sim.sendRaw(Buffer.from('\x01\x02garbage', 'latin1'));
    await until(() => Buffer.concat(a.raw).length === before + 9);
    expect(Buffer.concat(a.raw).subarray(before).toString('latin1')).toBe('\x01\x02garbage');
  });

  it.each([
    ['a bad frame header', Buffer.from('GET / HTTP/1.1\r\n\r\n')],
    ['a frame that is not UTF-8', Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('0001'), Buffer.from([0xff, 0xfe, 0xfd])])],
    ['truncated XML', encodeFrame(1, `<MonitorStart xmlns="${NS}"><monitorObject>`)],
    ['a foreign namespace', encodeFrame(1, '<MonitorStart xmlns="urn:not:csta"/>')],
  ])('closes a connection that sends %s, and keeps serving the others', async (_, bytes) => {
    const events: SimulatorEvent[] = [];
    const sim = await simulator({ onEvent: (e) => events.push(e) });
    const good = await linked(sim);
    const bad = await linked(sim);
    bad.socket.write(bytes);
    await bad.closed;
    expect(events.find((e) => e.type === 'protocol-error')).toBeDefined();
    expect(events.find((e) => e.type === 'connection-closed')).toMatchObject({ reason: expect.stringMatching(/^protocol error/) });
    expect((await good.ask(5, systemStatus(NS))).msg.name).toBe('SystemStatusResponse');
    expect(sim.connections).toBe(1);
  });
});

describe('PbxSimulator: volume', () => {
  it('flood(n) delivers n event frames over the first connection’s monitors', async () => {
    const sim = await simulator();
    const c = await linked(sim);
    const xrefs = await monitor(c, ['2001', '2002', '2003']);
    const n = 3_000;
    const result = await sim.flood(n);
    expect(result.frames).toBe(n);
    let bytes = 0;
    const names: string[] = [];
    const seenXrefs = new Set<string>();
    for (let i = 0; i < n; i++) {
      const r = await c.next();
      expect(r.invokeId).toBe(EVENT_INVOKE_ID);
      const e = eventOf(r.msg)!;
      if (i < 6) names.push(e.event);
      seenXrefs.add(e.monitorCrossRefId);
      bytes += r.bytes;
    }
    expect(names).toEqual(['Delivered', 'Established', 'ConnectionCleared', 'Delivered', 'Established', 'ConnectionCleared']);
    expect([...seenXrefs].sort()).toEqual([...xrefs].sort());
    expect(result.bytes).toBe(bytes);
    expect(result.ms).toBeGreaterThanOrEqual(0);
    await expect((await simulator()).flood(1)).rejects.toThrow(/no open connection/);
  });

  it('answers 5,000 pipelined MonitorStarts on one connection', async () => {
    const sim = await simulator();
    const c = await linked(sim);
    const n = 5_000;
    c.socket.write(Buffer.concat(Array.from({ length: n }, (_, i) => encodeFrame(i + 1, monitorStart(NS, String(100000 + i))))));
    const xrefs = new Set<string>();
    for (let i = 0; i < n; i++) {
      const r = await c.next();
      expect(r.invokeId).toBe(i + 1);
      expect(r.msg.name).toBe('MonitorStartResponse');
      xrefs.add(textAt(r.msg.body, 'monitorCrossRefID')!);
    }
    expect(xrefs.size).toBe(n);
    await sim.waitForMonitors(n);
    expect(sim.monitored().size).toBe(n);
    expect(sim.stats.monitorStarts).toBe(n);
  });

  it('waitForMonitors() times out with a message', async () => {
    const sim = await simulator();
    await expect(sim.waitForMonitors(1, 20)).rejects.toThrow(/timed out after 20 ms waiting for 1 monitored devices/);
  });
});
