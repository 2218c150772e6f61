/**
 * docs/links.md, promise by promise, where test/csta and test/runtime/pbx-links do not prove
 * it already: the start-up sequence (greeting wait, ECMA-354 session fields, the 80 % reset,
 * a refused SystemRegister, pbxDomain addressing, 100 requests in flight, snapshots given up),
 * events for unknown monitors and MonitorEnded, refused devices asked again, invoke ids, the
 * liveness and backoff defaults (on a fake clock, over real sockets), which link carries an
 * extension, links without a driver, and `switchboard status links|extensions`.
 *
 * The switch is either the PBX simulator or a bare switch written here, over real TCP on
 * loopback, that records every frame the link sends and answers as a test tells it.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { encodeFrame, FrameDecoder, type Frame } from '../../src/csta/frame.js';
import {
  APPL_SESSION_NS,
  CSTA_NS,
  buildMessage,
  cstaError,
  eventOf,
  isAcceptedNamespace,
  monitorStartResponse,
  parseMessage,
  startApplicationSessionPosResponse,
  systemRegisterResponse,
  textAt,
  type CstaMessage,
} from '../../src/csta/messages.js';
import { CstaLink, type CstaLinkOptions } from '../../src/csta/link.js';
import { PbxLinksEngine } from '../../src/runtime/engines/pbx-links.js';
import { createDriver } from '../../src/runtime/engines/link-drivers.js';
import { silentLog } from '../../src/log.js';
import { main } from '../../src/cli/main.js';
import type { KindName } from '../../src/model/kinds.js';
import type { LiveResource } from '../../src/runtime/types.js';
import { acquireServeLock, openEmbedded } from '../../src/runtime/embedded.js';
import { cleanups, startSimulator } from '../csta/helpers.js';
import { changeSet, open, tempDir } from '../runtime/helpers.js';

const cleanup = cleanups();

interface Received {
  readonly at: number;
  readonly invokeId: number;
  readonly msg: CstaMessage;
  readonly socket: net.Socket;
}

/**
 * A switch that records what the link sends and answers through `handle` (nothing by default).
 * `reply(xml)` answers with the request's invoke id.
 */
async function bareSwitch(handle: (m: CstaMessage, reply: (xml: string) => void, r: Received) => void = () => undefined, onConnect: (socket: net.Socket) => void = () => undefined) {
  const received: Received[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const decoder = new FrameDecoder();
    socket.on('data', (chunk) => {
      let frames: Frame[];
      try {
        frames = decoder.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const f of frames) {
        const r = { at: Date.now(), invokeId: f.invokeId, msg: parseMessage(f.xml), socket };
        received.push(r);
        handle(r.msg, (xml) => void (socket.destroyed || socket.write(encodeFrame(f.invokeId, xml))), r);
      }
    });
    onConnect(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    received,
    sockets,
    named: (name: string) => received.filter((x) => x.msg.name === name),
    /** Write a frame to every connection. */
    send: (invokeId: number, xml: string) => {
      for (const s of sockets) s.write(encodeFrame(invokeId, xml));
    },
  };
}

/** What a cooperative edition-4 switch answers (SystemRegister, MonitorStart with a fresh cross-ref id). */
function cooperative(ns = CSTA_NS.ed4) {
  let xref = 100;
  return (m: CstaMessage, reply: (xml: string) => void) => {
    if (m.name === 'SystemRegister') reply(systemRegisterResponse(ns, '1'));
    if (m.name === 'MonitorStart') reply(monitorStartResponse(ns, String(++xref)));
  };
}

function newLink(port: number, options: Partial<CstaLinkOptions> = {}): CstaLink {
  const l = new CstaLink({ host: '127.0.0.1', port, ...options });
  cleanup.push(() => l.stop());
  return l;
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => String(from + i));
const device = (r: Received) => textAt(r.msg.body, 'monitorObject', 'deviceObject') ?? textAt(r.msg.body, 'snapshotObject');

describe('docs/links.md — start-up', () => {
  it('without credentials, waits for the switch\'s greeting at most 1 s, then registers', async () => {
    let connectedAt = 0;
    const sw = await bareSwitch(cooperative(), () => (connectedAt = Date.now()));
    const l = newLink(sw.port, { snapshot: false });
    l.setExtensions(['2000']);
    l.start();
    await until(() => l.status().current === 1, 'monitored');
    const waited = sw.named('SystemRegister')[0]!.at - connectedAt;
    expect(waited).toBeGreaterThanOrEqual(900);
    expect(waited).toBeLessThan(2500);
    // A switch that greets is answered at once, and registration follows without the wait.
    const greeting = await bareSwitch(cooperative(), (s) => {
      connectedAt = Date.now();
      s.write(encodeFrame(7, buildMessage('SystemStatus', CSTA_NS.ed4, { systemStatus: 'normal' })));
    });
    const g = newLink(greeting.port, { snapshot: false });
    g.setExtensions(['2000']);
    g.start();
    await until(() => g.status().current === 1, 'monitored after a greeting');
    expect(greeting.named('SystemRegister')[0]!.at - connectedAt).toBeLessThan(800);
    expect(greeting.named('SystemStatusResponse')[0]).toMatchObject({ invokeId: 7 });
  });

  it('ECMA-354 session: applicationID switchboard, the credentials, 600 s asked; reset at 80 % of the duration granted', async () => {
    let grantedAt = 0;
    const sw = await bareSwitch((m, reply) => {
      if (m.name === 'StartApplicationSession') {
        grantedAt = Date.now();
        reply(startApplicationSessionPosResponse('S1', CSTA_NS.ed4, 3));
      }
      if (m.name === 'ResetApplicationSessionTimer') reply(buildMessage('ResetApplicationSessionTimerPosResponse', APPL_SESSION_NS, { actualSessionDuration: '3' }));
      cooperative()(m, reply);
    });
    const l = newLink(sw.port, { user: 'tws', password: 'Pa55', snapshot: false });
    l.setExtensions(['2000']);
    l.start();
    await until(() => sw.named('ResetApplicationSessionTimer').length >= 1, 'a session reset', 5000);
    const start = sw.named('StartApplicationSession')[0]!.msg.body;
    expect(textAt(start, 'applicationInfo', 'applicationID')).toBe('switchboard');
    expect(textAt(start, 'applicationInfo', 'applicationSpecificInfo', 'user')).toBe('tws');
    expect(textAt(start, 'applicationInfo', 'applicationSpecificInfo', 'password')).toBe('Pa55');
    expect(textAt(start, 'requestedSessionDuration')).toBe('600');
    const after = sw.named('ResetApplicationSessionTimer')[0]!.at - grantedAt;
    expect(after).toBeGreaterThanOrEqual(2350); // 80 % of the 3 s granted
    expect(after).toBeLessThan(3000); // before the session would end
    expect(l.status()).toMatchObject({ state: 'up', session: 'S1' });
  });

  it('a refused session is reported and retried with backoff', async () => {
    const sw = await bareSwitch((m, reply) => {
      if (m.name === 'StartApplicationSession') reply(buildMessage('StartApplicationSessionNegResponse', APPL_SESSION_NS, { errorCode: { definedError: 'invalidUser' } }));
    });
    const l = newLink(sw.port, { user: 'tws', password: 'wrong', backoff: { initialMs: 100, maxMs: 400 } });
    const messages = new Set<string>();
    l.onUpdate(() => void (l.status().state === 'backoff' && messages.add(l.status().message ?? '')));
    l.start();
    await until(() => sw.named('StartApplicationSession').length >= 3, 'three attempts');
    expect([...messages]).toEqual(['the switch refused the application session: invalidUser (check username and password)']);
    const at = sw.named('StartApplicationSession').map((x) => x.at);
    expect(at[2]! - at[1]!).toBeGreaterThan(at[1]! - at[0]! - 30); // not faster: backing off
  });

  it('a switch that answers SystemRegister with an error is only logged: supervision goes on', async () => {
    const infos: string[] = [];
    const sw = await bareSwitch((m, reply) => {
      if (m.name === 'SystemRegister') reply(cstaError(CSTA_NS.ed4, 'operation', 'requestIncompatibleWithObject'));
      if (m.name === 'MonitorStart') reply(monitorStartResponse(CSTA_NS.ed4, '1'));
    });
    const l = newLink(sw.port, { snapshot: false, greetingMs: 10, log: { debug: () => {}, info: (_f, msg) => infos.push(msg), warn: () => {}, error: () => {} } });
    l.setExtensions(['2000']);
    l.start();
    await until(() => l.status().current === 1, 'monitored');
    expect(l.status()).toMatchObject({ state: 'up', connects: 1 });
    expect(infos).toContain('the switch does not take SystemRegister: going on without it');
  });

  it('with pbxDomain, devices are addressed sip:NUMBER@PBXDOMAIN in MonitorStart and SnapshotDevice', async () => {
    const sw = await bareSwitch(cooperative());
    const l = newLink(sw.port, { pbxDomain: 'pbx.example.com', greetingMs: 10, requestTimeoutMs: 300 });
    l.setExtensions(['2001']);
    l.start();
    await until(() => sw.named('SnapshotDevice').length === 1, 'a snapshot asked');
    expect(sw.named('MonitorStart').map(device)).toEqual(['sip:2001@pbx.example.com']);
    expect(sw.named('SnapshotDevice').map(device)).toEqual(['sip:2001@pbx.example.com']);
  });

  it('100 MonitorStarts in flight at once, and 100 SnapshotDevices beside them', async () => {
    // The switch answers nothing until 100 requests of a kind wait, then answers them all.
    const waiting: Record<string, (() => void)[]> = { MonitorStart: [], SnapshotDevice: [] };
    const most: Record<string, number> = { MonitorStart: 0, SnapshotDevice: 0 };
    let xref = 0;
    const sw = await bareSwitch((m, reply) => {
      if (m.name === 'SystemRegister') reply(systemRegisterResponse(CSTA_NS.ed4, '1'));
      if (m.name !== 'MonitorStart' && m.name !== 'SnapshotDevice') return;
      const answer = m.name === 'MonitorStart' ? monitorStartResponse(CSTA_NS.ed4, String(++xref)) : buildMessage('SnapshotDeviceResponse', CSTA_NS.ed4, { crossRefIDorSnapshotData: { snapshotData: '' } });
      const list = waiting[m.name]!;
      list.push(() => reply(answer));
      most[m.name] = Math.max(most[m.name]!, list.length);
      if (list.length === 100) setTimeout(() => list.splice(0).forEach((f) => f()), 50);
    });
    const l = newLink(sw.port, { greetingMs: 10 });
    l.setExtensions(range(3000, 300));
    l.start();
    await until(() => l.status().current === 300 && [...l.extensions()].every(([, e]) => e.callState === 'idle'), '300 monitored and snapshotted');
    expect(most).toEqual({ MonitorStart: 100, SnapshotDevice: 100 });
  });

  it('a switch that refuses SnapshotDevice is not asked again on that connection; states start idle, the link stays up', async () => {
    const sw = await bareSwitch((m, reply) => {
      cooperative()(m, reply);
      if (m.name === 'SnapshotDevice') reply(cstaError(CSTA_NS.ed4, 'operation', 'requestIncompatibleWithObject'));
    });
    const l = newLink(sw.port, { greetingMs: 10, window: 1 });
    l.setExtensions(range(2000, 5));
    l.start();
    await until(() => l.status().current === 5 && [...l.extensions()].every(([, e]) => e.callState === 'idle'), 'all idle');
    expect(sw.named('SnapshotDevice')).toHaveLength(1);
    expect(l.status()).toMatchObject({ state: 'up', connects: 1 });
  });
});

describe('docs/links.md — supervision', () => {
  it('events for an unknown cross-ref id are counted and ignored; MonitorEnded re-monitors the extension', async () => {
    let xref = 0;
    const sw = await bareSwitch((m, reply) => {
      if (m.name === 'SystemRegister') reply(systemRegisterResponse(CSTA_NS.ed4, '1'));
      if (m.name === 'MonitorStart') reply(monitorStartResponse(CSTA_NS.ed4, `x${++xref}`));
    });
    const l = newLink(sw.port, { greetingMs: 10, snapshot: false });
    l.setExtensions(['2001', '2002']);
    l.start();
    await until(() => l.status().current === 2, 'both monitored');
    const ns = CSTA_NS.ed4;
    sw.send(9999, buildMessage('DeliveredEvent', ns, { monitorCrossRefID: 'nobody', connection: { callID: 'C9', deviceID: '2999' }, localConnectionInfo: 'alerting' }));
    await until(() => l.status().unmatchedEvents === 1, 'the unmatched event counted');
    expect([...l.extensions()].map(([, e]) => e.callState)).toEqual(['idle', 'idle']);
    const xrefOf2002 = `x${sw.named('MonitorStart').findIndex((r) => device(r) === '2002') + 1}`;
    sw.send(9999, buildMessage('MonitorEndedEvent', ns, { monitorCrossRefID: xrefOf2002, cause: 'normal' }));
    await until(() => sw.named('MonitorStart').filter((r) => device(r) === '2002').length === 2, 'a new MonitorStart for 2002');
    await until(() => l.status().current === 2, 'supervised again');
    expect(sw.named('MonitorStart').filter((r) => device(r) === '2001')).toHaveLength(1);
  });

  it('a refused device is asked again after the next reconnect, and when it is added back to the configuration — not on other changes', async () => {
    const sim = await startSimulator(cleanup, { devices: range(2000, 6) });
    const starts: string[] = [];
    const l = newLink(sim.port, { backoff: { initialMs: 50, maxMs: 200 }, requestTimeoutMs: 2000, log: { debug: () => {}, info: () => {}, error: () => {}, warn: (f) => void (typeof f.extension === 'string' && starts.push(f.extension)) } });
    l.setExtensions(['2000', '9001']);
    l.start();
    await until(() => l.status().current === 1 && l.status().refused === 1, 'one refused');
    expect(starts).toEqual(['9001']);
    l.setExtensions(['2000', '2001', '9001']); // another extension added: 9001 stays refused, not asked again
    await until(() => l.status().current === 2, '2001 monitored');
    await new Promise((r) => setTimeout(r, 100));
    expect(starts).toEqual(['9001']);
    l.setExtensions(['2000', '2001']);
    l.setExtensions(['2000', '2001', '9001']); // removed and added back: asked again
    await until(() => starts.length === 2, 'asked again after being added back');
    sim.drop();
    await until(() => l.status().connects === 2 && starts.length === 3, 'asked again after the reconnect');
  });

  it('a change of ip, port, username, password, pbxType or pbxDomain restarts the link (the plan says so); capacity and protect do not', async () => {
    const rt = await open(tempDir(), { startEngines: false });
    cleanup.push(() => rt.close());
    const link = { domain: 'acme/paris', name: 'pbx', protocol: 'csta', ip: '192.0.2.1', port: 3211, username: 'tws', password: 'Pa55', capacity: 10, protect: false };
    const r = rt.apply(
      changeSet(0, [
        { action: 'create', kind: 'Company', id: 'acme', body: { name: 'acme' } },
        { action: 'create', kind: 'Domain', id: 'acme/paris', body: { company: 'acme', name: 'paris' } },
        { action: 'create', kind: 'PbxLink', id: 'acme/paris/pbx', body: link },
        { action: 'create', kind: 'User', id: 'acme/paris/u', body: { domain: 'acme/paris', username: 'u', devices: [{ number: '100', protocol: 'CSTA' }] } },
      ]),
    );
    expect(r.ok ? [] : r.problems).toEqual([]);
    const facts = (change: Record<string, unknown>) => rt.impact([{ action: 'update', kind: 'PbxLink', id: 'acme/paris/pbx', body: { ...link, ...change } }])[0]?.facts ?? [];
    for (const [field, value] of [['ip', '192.0.2.2'], ['port', 3212], ['username', 'other'], ['password', 'another'], ['pbxType', 'OpenScape Business'], ['pbxDomain', 'pbx.example.com']] as const) {
      expect(facts({ [field]: value }), field).toEqual([{ type: 'restart', engine: 'pbx-links', target: 'PbxLink acme/paris/pbx', reason: `${field} changed: the link reconnects`, extensionsInterrupted: 1 }]);
    }
    expect(facts({ capacity: 20 })).toEqual([]);
    expect(facts({ protect: true })).toEqual([]);
  });

  it('the client never uses invoke id 9999 (events) and wraps from 9998 to 1', async () => {
    const sw = await bareSwitch(cooperative());
    const l = newLink(sw.port, { greetingMs: 10, snapshot: false });
    l.setExtensions(range(10000, 10_050));
    l.start();
    await until(() => l.status().current === 10_050, '10,050 monitored', 60_000);
    const ids = sw.received.map((r) => r.invokeId);
    expect(ids).not.toContain(9999);
    expect(ids).not.toContain(0);
    expect(Math.max(...ids)).toBe(9998);
    const at = ids.indexOf(9998);
    expect(ids[at + 1]).toBe(1);
  });

  it.each([
    ['null', 'idle'],
    ['initiated', 'dialing'],
    ['alerting', 'ringing'],
    ['connected', 'busy'],
    ['hold', 'held'],
    ['queued', 'calling'],
    ['fail', 'idle'],
  ])('localConnectionInfo %s → %s, whatever the event', (lci, state) => {
    expect(eventOf(parseMessage(buildMessage('EstablishedEvent', CSTA_NS.ed4, { monitorCrossRefID: '1', localConnectionInfo: lci })))?.state).toBe(state);
  });

  it.each([
    ['Delivered', 'ringing'],
    ['Established', 'busy'],
    ['ConnectionCleared', 'idle'],
    ['Held', 'held'],
    ['Retrieved', 'busy'],
    ['Failed', 'idle'],
    ['ServiceInitiated', 'dialing'],
  ])('without localConnectionInfo, %s → %s', (event, state) => {
    expect(eventOf(parseMessage(buildMessage(`${event}Event`, CSTA_NS.ed4, { monitorCrossRefID: '1' })))?.state).toBe(state);
  });

  it('accepts editions 2 to 5 in both the ecma.ch and ecma-international.org spellings, ECMA-354, or no namespace; nothing else', () => {
    for (const ed of [2, 3, 4, 5]) {
      for (const host of ['www.ecma.ch', 'www.ecma-international.org']) expect(isAcceptedNamespace(`http://${host}/standards/ecma-323/csta/ed${ed}`)).toBe(true);
    }
    expect(isAcceptedNamespace(APPL_SESSION_NS)).toBe(true);
    expect(isAcceptedNamespace(undefined)).toBe(true);
    for (const ns of ['http://www.ecma-international.org/standards/ecma-323/csta/ed1', 'http://www.ecma-international.org/standards/ecma-323/csta/ed6', 'urn:example:csta']) expect(isAcceptedNamespace(ns)).toBe(false);
  });
});

describe('docs/links.md — connect timeout', () => {
  it('a TCP connection not made within 5 s is given up', async () => {
    // A listener whose process never accepts (its event loop is blocked) and whose backlog is
    // full: the kernel drops further SYNs, so a connect hangs as towards a dead host.
    const child = spawn(process.execPath, ['-e', "const s=require('net').createServer().listen({port:0,host:'127.0.0.1',backlog:1},()=>{console.log(s.address().port);setTimeout(()=>Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0,60000),50)})"], { stdio: ['ignore', 'pipe', 'ignore'] });
    cleanup.push(() => void child.kill('SIGKILL'));
    const port = await new Promise<number>((r) => child.stdout.once('data', (d: Buffer) => r(Number(d.toString().trim()))));
    await new Promise((r) => setTimeout(r, 200));
    const fillers: net.Socket[] = [];
    for (let i = 0; i < 4; i++) fillers.push(net.connect(port, '127.0.0.1').on('error', () => undefined));
    cleanup.push(() => fillers.forEach((f) => f.destroy()));
    await new Promise((r) => setTimeout(r, 200));
    const l = newLink(port, { backoff: { initialMs: 60_000, maxMs: 60_000 } });
    const started = Date.now();
    l.start();
    await until(() => l.status().state === 'backoff', 'the connect given up', 9000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(4900);
    expect(l.status().message).toBe(`no TCP connection to 127.0.0.1:${port} within 5000 ms`);
  });
});

describe('docs/links.md — liveness and reconnection defaults (fake clock, real sockets)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Advance the fake clock in steps, letting real socket I/O run between them. */
  async function advance(ms: number, step = 500): Promise<void> {
    for (let t = 0; t < ms; t += step) {
      await vi.advanceTimersByTimeAsync(Math.min(step, ms - t));
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    }
  }
  async function settle(check: () => boolean, what: string): Promise<void> {
    for (let i = 0; i < 2000 && !check(); i++) await new Promise((r) => setImmediate(r));
    if (!check()) throw new Error(`never ${what}`);
  }

  it('SystemStatus after 30 s of silence; dead after 60 s of silence', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const sim = await startSimulator(cleanup);
    const l = newLink(sim.port, { snapshot: false });
    l.setExtensions(['2000']);
    l.start();
    await settle(() => l.status().current === 1, 'monitored');
    const framesIn = sim.stats.framesIn;
    await advance(29_000);
    expect(sim.stats.framesIn).toBe(framesIn); // nothing sent before 30 s of silence
    let heartbeatAt = 0;
    for (let t = 0; t < 9000 && heartbeatAt === 0; t += 100) {
      await advance(100, 100);
      if (sim.stats.framesIn > framesIn) heartbeatAt = Date.now();
    }
    expect(sim.stats.framesIn).toBe(framesIn + 1); // the SystemStatus heartbeat, answered at once
    expect(l.status()).toMatchObject({ state: 'up', connects: 1 });
    // From the switch's last answer, 60 s of silence: dead.
    sim.silence(true);
    const downs: { at: number; message: string | undefined }[] = [];
    l.onUpdate(() => void (l.status().state === 'backoff' && downs.length === 0 && downs.push({ at: Date.now(), message: l.status().message })));
    await advance(heartbeatAt + 59_000 - Date.now());
    expect(l.status().state).toBe('up');
    await advance(9_000);
    expect(downs).toHaveLength(1);
    expect(downs[0]!.at - heartbeatAt).toBeGreaterThanOrEqual(60_000);
    expect(downs[0]!.message).toMatch(/sent nothing for 6\d s: link dead|did not answer SystemStatus within 60000 ms/);
  });

  it('a request unanswered for 10 s kills the link', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const sw = await bareSwitch(); // answers nothing
    const l = newLink(sw.port);
    l.start();
    await settle(() => l.status().state === 'starting', 'connected');
    await advance(1000); // the greeting wait
    await settle(() => sw.named('SystemRegister').length === 1, 'registering');
    await advance(9_500);
    expect(l.status().state).toBe('starting');
    await advance(1000);
    expect(l.status()).toMatchObject({ state: 'backoff', message: 'the switch did not answer SystemRegister within 10000 ms' });
  });

  it('reconnects after 1 s, 2 s, 4 s … 60 s at most; the streak starts over once a connection is up', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    let serve = false;
    const sw = await bareSwitch(cooperative(), (s) => {
      if (!serve) s.destroy();
    });
    const l = newLink(sw.port, { snapshot: false, greetingMs: 10 });
    l.setExtensions(['2000']);
    l.start();
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      await settle(() => l.status().state === 'backoff' && l.status().connects === i + 1, `drop ${i + 1}`);
      const delay = Date.parse(l.status().nextAttemptAt!) - Date.now();
      delays.push(delay);
      if (i === 7) serve = true;
      await advance(delay, delay);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000]);
    await advance(100, 10);
    await settle(() => l.status().state === 'up', 'up');
    serve = false;
    for (const s of sw.sockets) s.destroy();
    await settle(() => l.status().state === 'backoff', 'dropped again');
    expect(Date.parse(l.status().nextAttemptAt!) - Date.now()).toBe(1000);
  });
});

describe('docs/links.md — VTI-XML probes', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a VTI-XML link is probed with a TCP connection to ip:port every 30 s', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    let accepted = 0;
    const listener = net.createServer((sock) => {
      accepted++;
      sock.destroy();
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise<void>((r) => listener.close(() => r())));
    const driver = createDriver({ protocol: 'vtixml', host: '127.0.0.1', port: (listener.address() as net.AddressInfo).port, log: silentLog, now: () => new Date() }, {});
    cleanup.push(() => driver.stop());
    const settle = async (check: () => boolean) => {
      for (let i = 0; i < 2000 && !check(); i++) await new Promise((r) => setImmediate(r));
    };
    await settle(() => accepted === 1 && driver.status().reachable === true);
    expect(driver.status()).toMatchObject({ state: 'unavailable', reachable: true });
    await vi.advanceTimersByTimeAsync(29_000);
    await settle(() => false);
    expect(accepted).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    await settle(() => accepted === 2);
    expect(accepted).toBe(2);
  });
});

describe('docs/links.md — which link supervises an extension', () => {
  const mk = (kind: KindName, id: string, body: Record<string, unknown>): LiveResource => ({ kind, id, body, manager: 'config', revision: 1, updatedAt: '', updatedBy: '', updatedVia: 'plan' });

  it('a device naming a link goes to it; otherwise to the first link of its domain, in name order, of its protocol; the rest are listed with the reason and counted per company', () => {
    const engine = PbxLinksEngine.offline([
      mk('PbxLink', 'a/d/zeta', { domain: 'a/d', name: 'zeta', protocol: 'csta', ip: '10.0.0.3', port: 1 }),
      mk('PbxLink', 'a/d/beta', { domain: 'a/d', name: 'beta', protocol: 'csta', ip: '10.0.0.2', port: 1 }),
      mk('PbxLink', 'a/d/alpha', { domain: 'a/d', name: 'alpha', protocol: 'vtixml', ip: '10.0.0.1' }),
      mk('PbxLink', 'b/e/only', { domain: 'b/e', name: 'only', protocol: 'csta', ip: '10.0.0.9', port: 1 }),
      mk('User', 'a/d/u', { domain: 'a/d', username: 'u', devices: [{ number: '100', protocol: 'CSTA' }, { number: '101', protocol: 'CSTA', link: 'zeta' }, { number: '102', protocol: 'SIP' }] }),
      mk('User', 'b/e/v', { domain: 'b/e', username: 'v', devices: [{ number: '100', protocol: 'VTI-XML' }] }),
    ]);
    const byNumber = Object.fromEntries(engine.extensions().map((x) => [`${x.domain} ${x.extension}`, x]));
    expect(byNumber['a/d 100']!.link).toBe('a/d/beta');
    expect(byNumber['a/d 101']!.link).toBe('a/d/zeta');
    expect(byNumber['a/d 102']).toMatchObject({ supervision: 'disconnected', error: 'no sip link in domain a/d can supervise it' });
    expect(byNumber['a/d 102']!.link).toBeUndefined();
    expect(byNumber['b/e 100']).toMatchObject({ error: 'no vtixml link in domain b/e can supervise it' });
    expect(engine.status().details!.unsupervised).toEqual([
      { company: 'a', extensions: 1 },
      { company: 'b', extensions: 1 },
    ]);
  });

  it('SIP links and snom DEVICE CSTA links have no driver: reported unavailable, with the reason', async () => {
    const listener = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise<void>((r) => listener.close(() => r())));
    const port = (listener.address() as net.AddressInfo).port;
    const rt = await open(tempDir(), { engines: [new PbxLinksEngine({ probeIntervalMs: 100, probeTimeoutMs: 500 })] });
    cleanup.push(() => rt.close());
    const r = rt.apply(
      changeSet(0, [
        { action: 'create', kind: 'Company', id: 'acme', body: { name: 'acme' } },
        { action: 'create', kind: 'Domain', id: 'acme/paris', body: { company: 'acme', name: 'paris' } },
        { action: 'create', kind: 'PbxLink', id: 'acme/paris/sip', body: { domain: 'acme/paris', name: 'sip', protocol: 'sip', ip: '127.0.0.1', port } },
        { action: 'create', kind: 'PbxLink', id: 'acme/paris/snom', body: { domain: 'acme/paris', name: 'snom', protocol: 'csta', port: 6010, pbxType: 'snom DEVICE', pbxDomain: 'snom.example.com' } },
        { action: 'create', kind: 'User', id: 'acme/paris/u', body: { domain: 'acme/paris', username: 'u', devices: [{ number: '200', protocol: 'SIP' }, { number: '201', protocol: 'CSTA', link: 'snom' }] } },
      ]),
    );
    expect(r.ok ? [] : r.problems).toEqual([]);
    await until(() => rt.links().find((x) => x.id === 'acme/paris/sip')?.reachable === true, 'the SIP probe');
    const sip = rt.links().find((x) => x.id === 'acme/paris/sip')!;
    expect(sip).toMatchObject({ state: 'unavailable', connected: false });
    expect(sip.message).toMatch(/^SIP protocol driver not available: registering bots with the PBX over SIP is not implemented.*accepts TCP connections/);
    const snom = rt.links().find((x) => x.id === 'acme/paris/snom')!;
    expect(snom).toMatchObject({ state: 'unavailable', connected: false });
    expect(snom.message).toMatch(/uaCSTA.*not implemented/);
    expect(rt.extensions().map((x) => [x.extension, x.supervision])).toEqual([
      ['200', 'disconnected'],
      ['201', 'disconnected'],
    ]);
  });
});

describe('docs/links.md — status', () => {
  it('on the embedded runtime: links as configured, a note, extensions in number order, --link and --limit', async () => {
    const cwd = tempDir();
    const client = await openEmbedded(path.join(cwd, '.switchboard'));
    const r = await client.apply(
      changeSet(0, [
        { action: 'create', kind: 'Company', id: 'acme', body: { name: 'acme' } },
        { action: 'create', kind: 'Domain', id: 'acme/paris', body: { company: 'acme', name: 'paris' } },
        { action: 'create', kind: 'PbxLink', id: 'acme/paris/a', body: { domain: 'acme/paris', name: 'a', protocol: 'csta', ip: '192.0.2.1', port: 3211, capacity: 10 } },
        { action: 'create', kind: 'PbxLink', id: 'acme/paris/b', body: { domain: 'acme/paris', name: 'b', protocol: 'vtixml', ip: '192.0.2.2', siteCluster: '5.2' } },
        { action: 'create', kind: 'User', id: 'acme/paris/u', body: { domain: 'acme/paris', username: 'u', devices: [{ number: '1003', protocol: 'CSTA' }, { number: '1001', protocol: 'VTI-XML' }, { number: '1002', protocol: 'CSTA' }] } },
      ]),
    );
    expect(r.ok).toBe(true);
    await client.close();
    const out: string[] = [];
    const io = { cwd, env: {}, stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => out.push(s) } };
    const run = async (args: string[]) => {
      out.length = 0;
      expect(await main(args, io as never)).toBe(0);
      return out.join('');
    };
    const links = await run(['status', 'links']);
    expect(links.split('\n').slice(0, 3)).toEqual([
      expect.stringMatching(/^LINK\s+PROTOCOL\s+HOST\s+PORT\s+SITE\s+CONNECTED\s+CURRENT\s+TOTAL\s+STATE$/),
      expect.stringMatching(/^acme\/paris\/a\s+csta\s+192\.0\.2\.1\s+3211\s+-\s+no\s+0\s+10\s+stopped$/),
      expect.stringMatching(/^acme\/paris\/b\s+vtixml\s+192\.0\.2\.2\s+3199\s+5\.2\s+no\s+0\s+-\s+stopped$/),
    ]);
    expect(links).toContain('note: no switchboard serve runs on this data directory: links are shown as configured, not connected');
    const lock = acquireServeLock(path.join(cwd, '.switchboard')); // as a running serve holds it
    try {
      expect(await run(['status', 'links'])).toContain(`note: links are run by switchboard serve (PID ${process.pid}) on this data directory; pass --runtime URL (its address) to see their live state`);
    } finally {
      lock.release();
    }
    const all = await run(['status', 'extensions', '--format', 'json']);
    expect((JSON.parse(all) as { extension: string; link: string }[]).map((x) => `${x.extension} ${x.link}`)).toEqual(['1001 acme/paris/b', '1002 acme/paris/a', '1003 acme/paris/a']);
    const some = await run(['status', 'extensions', '--link', 'acme/paris/a', '--limit', '1']);
    expect(some.split('\n')[0]).toMatch(/^EXTENSION\s+LINK\s+TYPE\s+SUPERVISION\s+STATE\s+LAST EVENT\s+OWNER$/);
    expect(some.split('\n')[1]).toMatch(/^1002\s+acme\/paris\/a\s+CTI\s+disconnected\s+unknown\s+/);
    expect(some.split('\n').filter((x) => /^\d/.test(x))).toHaveLength(1);
  });
});

describe('docs/links.md — the PBX simulator (npm run pbx-sim)', () => {
  it('answer, silent on/off, restart and --traffic drive the switch as documented', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('scripts/pbx-sim.ts'), '--port', '0', '--devices', '1001-1005', '--traffic', '20'], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH } });
    cleanup.push(() => void (child.exitCode === null && child.kill('SIGKILL')));
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => /listening on 127\.0\.0\.1:\d+/.test(out), 'the listening line', 20_000);
    const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(out)![1]);
    const l = newLink(port, { backoff: { initialMs: 50, maxMs: 200 }, heartbeatMs: 100, deadAfterMs: 500 });
    l.setExtensions(range(1001, 5));
    l.start();
    await until(() => l.status().current === 5, 'five supervised');
    // --traffic: random calls among the monitored devices, without a command.
    await until(() => l.status().events >= 4, 'traffic events');
    child.stdin.write('call 1001 1002\n');
    await until(() => /call (\S+): 1001 → 1002/.test(out), 'the call line');
    const callId = /call (\S+): 1001 → 1002/.exec(out)![1]!;
    child.stdin.write(`answer ${callId}\n`);
    await until(() => [...l.extensions()].some(([n, e]) => n === '1002' && e.lastEvent?.name === 'Established'), '1002 answered');
    child.stdin.write('silent on\n');
    await until(() => l.status().state !== 'up', 'declared dead while the switch is silent');
    child.stdin.write('silent off\n');
    await until(() => l.status().state === 'up' && l.status().current === 5, 'back once the switch speaks');
    const connects = l.status().connects;
    child.stdin.write('restart 300\n');
    await until(() => l.status().connects > connects && l.status().current === 5, 'back after the restart');
    child.stdin.write('quit\n');
  });
});
