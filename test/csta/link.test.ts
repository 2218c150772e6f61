/**
 * The CSTA link client against the PBX simulator, over real TCP sockets on loopback: start-up,
 * supervision within capacity, events, configuration changes, and every way a switch can fail
 * (broken framing, truncated XML, oversized frames, silence, restart).
 */
import { describe, expect, it } from 'vitest';
import net from 'node:net';
import { encodeFrame, FrameDecoder, type Frame } from '../../src/csta/frame.js';
import { CSTA_NS, buildMessage, parseMessage, systemStatus } from '../../src/csta/messages.js';
import { CstaLink, type CstaLinkOptions, type ExtensionState } from '../../src/csta/link.js';
import type { Log } from '../../src/log.js';
import { PbxSimulator, type SimulatorOptions } from '../../src/csta/simulator.js';
import { cleanups, startSimulator } from './helpers.js';

const cleanup = cleanups();
const simulator = (options: SimulatorOptions = {}): Promise<PbxSimulator> => startSimulator(cleanup, options);

interface Logged {
  readonly level: string;
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

function link(sim: PbxSimulator, options: Partial<CstaLinkOptions> = {}): { link: CstaLink; logs: Logged[] } {
  const logs: Logged[] = [];
  const log: Log = {
    debug: (fields, msg) => logs.push({ level: 'debug', msg, fields }),
    info: (fields, msg) => logs.push({ level: 'info', msg, fields }),
    warn: (fields, msg) => logs.push({ level: 'warn', msg, fields }),
    error: (fields, msg) => logs.push({ level: 'error', msg, fields }),
  };
  const l = new CstaLink({ host: '127.0.0.1', port: sim.port, backoff: { initialMs: 50, maxMs: 400 }, requestTimeoutMs: 2000, log, ...options });
  cleanup.push(() => l.stop());
  return { link: l, logs };
}

/** Resolves when `check` holds: after an update of the link, or at a 10 ms poll (for conditions on the switch). */
function until(l: CstaLink, check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const finish = (error?: Error) => {
      clearTimeout(timer);
      clearInterval(poll);
      off();
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(() => finish(new Error(`timed out waiting for ${what}; link status ${JSON.stringify(l.status())}`)), timeoutMs);
    const poll = setInterval(() => check() && finish(), 10);
    const off = l.onUpdate(() => check() && finish());
  });
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => String(from + i));
const ext = (l: CstaLink, n: string): ExtensionState | undefined => new Map(l.extensions()).get(n);

describe('CSTA link', () => {
  it('starts up, monitors every extension, and follows calls through their events', async () => {
    const sim = await simulator();
    const { link: l } = link(sim);
    l.setExtensions(range(2000, 50));
    l.start();
    await until(l, () => l.status().current === 50, '50 monitored');
    expect(l.status()).toMatchObject({ state: 'up', connected: true, current: 50, wanted: 50, pending: 0, connects: 1 });
    expect(sim.monitored().size).toBe(50);
    // Each state comes from the device's snapshot: unknown until it answers, then idle.
    await until(l, () => [...l.extensions()].every(([, e]) => e.callState === 'idle'), 'every snapshot answered');
    expect(ext(l, '2001')).toMatchObject({ supervision: 'monitored', callState: 'idle' });

    const call = sim.call('2001', '2002');
    await until(l, () => ext(l, '2002')?.callState === 'ringing', '2002 ringing');
    expect(ext(l, '2001')?.callState).toBe('busy');
    expect(ext(l, '2002')?.lastEvent?.name).toBe('Delivered');
    sim.answer(call);
    await until(l, () => ext(l, '2002')?.callState === 'busy', '2002 answered');
    expect(ext(l, '2002')?.lastEvent?.name).toBe('Established');
    sim.hangup(call);
    await until(l, () => ext(l, '2001')?.callState === 'idle' && ext(l, '2002')?.callState === 'idle', 'both idle');
    expect(ext(l, '2001')?.lastEvent).toMatchObject({ name: 'ConnectionCleared' });
    expect(ext(l, '2003')).toMatchObject({ supervision: 'monitored', callState: 'idle' });
    expect(ext(l, '2003')?.lastEvent).toBeUndefined();
    expect(l.status().events).toBeGreaterThanOrEqual(6);
  });

  it('takes the calls in progress when it starts from each device\'s snapshot, then follows events', async () => {
    const sim = await simulator();
    const talking = sim.call('2001', '2002');
    sim.answer(talking);
    const ringing = sim.call('2003', '2004');
    const { link: l } = link(sim);
    l.setExtensions(range(2001, 5));
    l.start();
    await until(l, () => [...l.extensions()].every(([, e]) => e.callState !== 'unknown'), 'every snapshot answered');
    expect([...l.extensions()].map(([n, e]) => [n, e.callState])).toEqual([
      ['2001', 'busy'],
      ['2002', 'busy'],
      ['2003', 'busy'],
      ['2004', 'ringing'],
      ['2005', 'idle'],
    ]);
    sim.hangup(ringing);
    await until(l, () => ext(l, '2004')?.callState === 'idle', 'the ringing call cleared');
    expect(ext(l, '2001')?.callState).toBe('busy');
  });

  it('starts an ECMA-354 session with the credentials, and reports a refused one', async () => {
    const sim = await simulator({ credentials: { user: 'cti', password: 's3cret' } });
    const bad = link(sim, { user: 'cti', password: 'wrong' }).link;
    bad.setExtensions(['2000']);
    bad.start();
    await until(bad, () => bad.status().state === 'backoff', 'refused session');
    expect(bad.status().message).toMatch(/refused the application session.*check username and password/);
    expect(bad.status().current).toBe(0);
    await bad.stop();

    const good = link(sim, { user: 'cti', password: 's3cret' }).link;
    good.setExtensions(['2000', '2001']);
    good.start();
    await until(good, () => good.status().current === 2, 'monitored with a session');
    expect(good.status().session).toBeTruthy();
  });

  it("answers the switch's SystemStatus with its invoke id and speaks the switch's edition", async () => {
    // A bare switch speaking edition 2: it greets with SystemStatus (invoke id 0042) and records what the link sends.
    const received: Frame[] = [];
    const server = net.createServer((socket) => {
      const decoder = new FrameDecoder();
      socket.on('error', () => undefined);
      socket.on('data', (chunk) => {
        for (const f of decoder.push(chunk)) {
          received.push(f);
          const name = parseMessage(f.xml).name;
          if (name === 'SystemRegister') socket.write(encodeFrame(f.invokeId, buildMessage('SystemRegisterResponse', CSTA_NS.ed2, { sysStatRegisterID: '1' })));
          if (name === 'MonitorStart') socket.write(encodeFrame(f.invokeId, buildMessage('MonitorStartResponse', CSTA_NS.ed2, { monitorCrossRefID: '7' })));
        }
      });
      socket.write(encodeFrame(42, systemStatus(CSTA_NS.ed2)));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
    const l = new CstaLink({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, requestTimeoutMs: 300 });
    cleanup.push(() => l.stop());
    l.setExtensions(['2000']);
    l.start();
    await until(l, () => l.status().current === 1, 'monitored by the bare switch');
    // It ignores SnapshotDevice: the state falls back to idle and the link stays up.
    await until(l, () => ext(l, '2000')?.callState === 'idle', 'the unanswered snapshot given up');
    expect(l.status()).toMatchObject({ state: 'up', connects: 1 });
    const messages = received.map((f) => ({ id: f.invokeId, ...parseMessage(f.xml) }));
    expect(messages.find((m) => m.name === 'SystemStatusResponse')).toMatchObject({ id: 42, namespace: CSTA_NS.ed2 });
    expect(messages.filter((m) => m.name === 'SystemRegister' || m.name === 'MonitorStart').map((m) => m.namespace)).toEqual([CSTA_NS.ed2, CSTA_NS.ed2]);
    expect(messages.every((m) => m.id !== 9999)).toBe(true);
  });

  it('reports devices the switch refuses, with its error, and supervises the others', async () => {
    const sim = await simulator({ devices: range(2000, 5) });
    const { link: l } = link(sim);
    l.setExtensions([...range(2000, 5), '9999', '9998']);
    l.start();
    await until(l, () => l.status().current === 5 && l.status().refused === 2, '5 monitored, 2 refused');
    expect(ext(l, '9999')).toMatchObject({ supervision: 'refused', error: 'operation: invalidDeviceID' });
  });

  it('supervises up to the capacity, lowest numbers first, reports the rest, and follows capacity changes', async () => {
    const sim = await simulator();
    const { link: l } = link(sim, { capacity: 6 });
    l.setExtensions(range(3000, 10).reverse());
    l.start();
    await until(l, () => l.status().current === 6, '6 monitored');
    expect(l.status()).toMatchObject({ current: 6, overCapacity: 4, total: 6 });
    expect([...sim.monitored().keys()].sort()).toEqual(range(3000, 6));
    expect(ext(l, '3009')).toMatchObject({ supervision: 'over-capacity', error: 'the link supervises at most 6 extensions' });

    l.setCapacity(10);
    await until(l, () => l.status().current === 10, 'all 10 monitored');
    const stops = sim.stats.monitorStops;
    l.setCapacity(3);
    await until(l, () => sim.monitored().size === 3, 'back to 3 on the switch');
    expect(sim.stats.monitorStops - stops).toBe(7);
    expect([...sim.monitored().keys()].sort()).toEqual(range(3000, 3));
    expect(l.status()).toMatchObject({ current: 3, overCapacity: 7 });
    expect(l.status().connects).toBe(1);
  });

  it('starts and stops only the extensions that changed', async () => {
    const sim = await simulator();
    const { link: l } = link(sim);
    l.setExtensions(range(4000, 20));
    l.start();
    await until(l, () => l.status().current === 20, '20 monitored');
    const [starts, stops] = [sim.stats.monitorStarts, sim.stats.monitorStops];
    const before = new Map(sim.monitored());
    l.setExtensions([...range(4001, 19), '4100']); // 4000 removed, 4100 added
    await until(l, () => sim.monitored().has('4100') && !sim.monitored().has('4000'), 'the swap on the switch');
    expect(sim.stats.monitorStarts - starts).toBe(1);
    expect(sim.stats.monitorStops - stops).toBe(1);
    for (const n of range(4001, 19)) expect(sim.monitored().get(n)).toBe(before.get(n)); // same monitors
    expect(ext(l, '4000')).toBeUndefined();
    expect(l.status()).toMatchObject({ current: 20, connects: 1 });
  });

  describe('a switch that breaks', () => {
    const broken: [string, () => Buffer, RegExp][] = [
      ['a header with a bad version', () => Buffer.from('\x01\x00\x00\x209999<x/>'.padEnd(32, ' '), 'latin1'), /framing error.*version/],
      ['a length shorter than the header', () => Buffer.from('\x00\x00\x00\x039999', 'latin1'), /framing error.*shorter than its 8-byte header/],
      ['a non-digit invoke id', () => Buffer.from('\x00\x00\x00\x0cAB12<a/>', 'latin1'), /framing error.*invoke id/],
      ['truncated XML', () => encodeFrame(9999, '<DeliveredEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed4"><monitorCrossRefID>1</monitor'), /bad message.*malformed XML/],
      [
        'an oversized frame whose length field wrapped',
        () => {
          const body = Buffer.from(`<DeliveredEvent>${'x'.repeat(70_000)}</DeliveredEvent>`);
          const header = Buffer.from('\x00\x00\x00\x009999', 'latin1');
          header.writeUInt16BE((8 + body.length) & 0xffff, 2);
          return Buffer.concat([header, body]);
        },
        /bad message|framing error/,
      ],
    ];
    for (const [what, bytes, reason] of broken) {
      it(`reconnects and re-monitors after ${what}, and logs why`, async () => {
        const sim = await simulator();
        const { link: l, logs } = link(sim);
        l.setExtensions(range(5000, 30));
        l.start();
        await until(l, () => l.status().current === 30, '30 monitored');
        sim.sendRaw(bytes());
        await until(l, () => l.status().state === 'backoff', 'the link dropping');
        expect(l.status().message).toMatch(reason);
        expect(logs.some((e) => e.level === 'warn' && /reconnecting/.test(e.msg))).toBe(true);
        await until(l, () => l.status().connects === 2 && l.status().current === 30, 'reconnected and re-monitored');
        expect(sim.monitored().size).toBe(30);
      });
    }

    it('declares a silent switch dead after the timeout, then reconnects', async () => {
      const sim = await simulator();
      const { link: l } = link(sim, { heartbeatMs: 100, deadAfterMs: 400 });
      l.setExtensions(range(6000, 5));
      l.start();
      await until(l, () => l.status().current === 5, '5 monitored');
      sim.silence(true);
      await until(l, () => l.status().state === 'backoff', 'declared dead');
      expect(l.status().message).toMatch(/sent nothing for|did not answer SystemStatus/);
      sim.silence(false);
      await until(l, () => l.status().current === 5 && l.status().connects >= 2, 're-monitored after silence');
    });

    it('keeps a quiet but answering switch up with heartbeats', async () => {
      const sim = await simulator();
      const { link: l } = link(sim, { heartbeatMs: 50, deadAfterMs: 300 });
      l.setExtensions(['6100']);
      l.start();
      await until(l, () => l.status().current === 1, 'monitored');
      const framesIn = sim.stats.framesIn;
      await new Promise((r) => setTimeout(r, 800));
      expect(l.status()).toMatchObject({ state: 'up', connects: 1 });
      expect(sim.stats.framesIn - framesIn).toBeGreaterThanOrEqual(2); // SystemStatus heartbeats
    });

    it('re-monitors everything after the switch restarts', async () => {
      const sim = await simulator();
      const { link: l } = link(sim);
      l.setExtensions(range(7000, 40));
      l.start();
      await until(l, () => l.status().current === 40, '40 monitored');
      await sim.restart(200);
      await until(l, () => l.status().connects >= 2 && l.status().current === 40, 're-monitored after the restart');
      expect(sim.monitored().size).toBe(40);
    });

    it('backs off while nothing listens, and connects once the switch is there', async () => {
      const sim = await simulator();
      const port = sim.port;
      await sim.close();
      cleanup.pop();
      const l = new CstaLink({ host: '127.0.0.1', port, backoff: { initialMs: 50, maxMs: 200 } });
      cleanup.push(() => l.stop());
      l.setExtensions(['7100']);
      l.start();
      await until(l, () => l.status().state === 'backoff', 'refused connection');
      expect(l.status().message).toMatch(/ECONNREFUSED/);
      expect(ext(l, '7100')).toMatchObject({ supervision: 'disconnected' });
      const back = await simulator({ port });
      await until(l, () => l.status().current === 1, 'connected once listening');
      expect(back.monitored().has('7100')).toBe(true);
    });
  });

  it('supervises 5,000 extensions on one link', async () => {
    const sim = await simulator();
    const { link: l } = link(sim);
    l.setExtensions(range(10000, 5000));
    l.start();
    await until(l, () => l.status().current === 5000, '5,000 monitored', 30_000);
    expect(sim.monitored().size).toBe(5000);
    const call = sim.call('14999', '10000');
    await until(l, () => ext(l, '10000')?.callState === 'ringing', 'an event on the last and first');
    sim.hangup(call);
    await until(l, () => ext(l, '10000')?.callState === 'idle', 'cleared');
  });
});
