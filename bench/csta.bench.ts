/**
 * `npm run bench:csta`: the CSTA link (src/csta/link.ts) against the PBX simulator on a
 * loopback TCP socket, each figure next to its floor measured on the same kind of socket with
 * the same simulator.
 *
 * 1. Supervision: from `start()` to BENCH_CSTA_EXTENSIONS (default 5,000) extensions monitored
 *    (TCP connect, SystemRegister, one MonitorStart each, 100 in flight), and to every
 *    extension's state known (one SnapshotDevice each, pipelined beside the MonitorStarts).
 *    Floor: a bare client that sends the same MonitorStart and SnapshotDevice frames with the
 *    same windows and only counts the answers' frames (no XML parsing, no state).
 * 2. Events: the simulator floods BENCH_CSTA_EVENTS (default 200,000) Delivered / Established /
 *    ConnectionCleared events over the monitored devices; time until the link has applied them
 *    all to its extensions. Floor: the simulator's raw frame throughput to the bare client on the
 *    same socket (frames counted, not parsed); in between, the bare client decoding and parsing
 *    each event's XML (saxes) without keeping state, to show where the time goes.
 *
 * No target is named by the issue beyond "next to the floor". Medians of BENCH_RUNS (default 3).
 */
import net from 'node:net';
import { encodeFrame, FrameDecoder } from '../src/csta/frame.js';
import { CstaLink } from '../src/csta/link.js';
import { CSTA_NS, eventOf, monitorStart, parseMessage, snapshotDevice, systemStatusResponse } from '../src/csta/messages.js';
import { PbxSimulator } from '../src/csta/simulator.js';
import { ms, table } from './util.js';

const EXTENSIONS = Number(process.env.BENCH_CSTA_EXTENSIONS ?? 5000);
const EVENTS = Number(process.env.BENCH_CSTA_EVENTS ?? 200_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const WINDOW = 100;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rate = (n: number, t: number) => `${Math.round((n / t) * 1000).toLocaleString('en-US')}/s`;
const numbers = Array.from({ length: EXTENSIONS }, (_, i) => String(100_000 + i));

/** A bare client: MonitorStart frames with a window, frames counted; optionally parses events. */
class BareClient {
  readonly socket: net.Socket;
  readonly #decoder = new FrameDecoder();
  #onFrame: (invokeId: number, xml: string) => void = () => {};

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      for (const f of this.#decoder.push(chunk)) {
        if (f.xml.includes('<SystemStatus ') || f.xml.includes('<SystemStatus>')) {
          socket.write(encodeFrame(f.invokeId, systemStatusResponse(CSTA_NS.ed4)));
          continue;
        }
        this.#onFrame(f.invokeId, f.xml);
      }
    });
  }

  static connect(port: number): Promise<BareClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(new BareClient(s)));
      s.once('error', reject);
    });
  }

  /** MonitorStart then SnapshotDevice for every number (the link's frames), `2 × WINDOW` in flight, counting answers. */
  monitorAll(list: readonly string[]): Promise<void> {
    const requests = list.length * 2;
    return new Promise((resolve) => {
      let sent = 0;
      let answered = 0;
      const send = () => {
        const id = (sent % 9998) + 1;
        const device = list[sent >> 1]!;
        this.socket.write(encodeFrame(id, sent % 2 === 0 ? monitorStart(CSTA_NS.ed4, device) : snapshotDevice(CSTA_NS.ed4, device)));
        sent++;
      };
      this.#onFrame = (invokeId) => {
        if (invokeId === 9999) return;
        answered++;
        if (sent < requests) send();
        if (answered === requests) resolve();
      };
      while (sent < Math.min(2 * WINDOW, requests)) send();
    });
  }

  /** Resolves after `n` event frames (invoke id 9999); `parse`: decode each event's XML too. */
  events(n: number, parse: boolean): Promise<void> {
    return new Promise((resolve) => {
      let seen = 0;
      this.#onFrame = (invokeId, xml) => {
        if (invokeId !== 9999) return;
        if (parse && !eventOf(parseMessage(xml))) throw new Error('not an event');
        if (++seen === n) resolve();
      };
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Polls `check` every millisecond (an onUpdate listener would run on every event and skew the figure). */
function waitFor(check: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const poll = setInterval(() => {
      if (!check()) return;
      clearInterval(poll);
      resolve();
    }, 1);
  });
}

const supFloor: number[] = [];
const supLink: number[] = [];
const supKnown: number[] = [];
const evFloor: number[] = [];
const evParse: number[] = [];
const evLink: number[] = [];

for (let run = 0; run < RUNS; run++) {
  // Floor: bare client on a fresh simulator.
  {
    const sim = await PbxSimulator.start();
    let t = performance.now();
    const bare = await BareClient.connect(sim.port);
    await bare.monitorAll(numbers);
    supFloor.push(performance.now() - t);
    if (sim.monitored().size !== EXTENSIONS) throw new Error(`bare client monitored ${sim.monitored().size}`);
    t = performance.now();
    const got = bare.events(EVENTS, false);
    await sim.flood(EVENTS);
    await got;
    evFloor.push(performance.now() - t);
    t = performance.now();
    const parsed = bare.events(EVENTS, true);
    await sim.flood(EVENTS);
    await parsed;
    evParse.push(performance.now() - t);
    bare.close();
    await sim.close();
  }
  // The link.
  {
    const sim = await PbxSimulator.start();
    const link = new CstaLink({ host: '127.0.0.1', port: sim.port, window: WINDOW });
    link.setExtensions(numbers);
    let t = performance.now();
    link.start();
    await waitFor(() => link.status().current === EXTENSIONS);
    supLink.push(performance.now() - t);
    await waitFor(() => { for (const [, e] of link.extensions()) if (e.callState === 'unknown') return false; return true; });
    supKnown.push(performance.now() - t);
    const before = link.status().events;
    t = performance.now();
    await sim.flood(EVENTS);
    await waitFor(() => link.status().events - before >= EVENTS);
    evLink.push(performance.now() - t);
    const busy = [...link.extensions()].filter(([, e]) => e.lastEvent !== undefined).length;
    if (busy !== EXTENSIONS) throw new Error(`only ${busy} extensions saw an event`);
    await link.stop();
    await sim.close();
  }
}

const [sf, sl, sk, ef, ep, el] = [median(supFloor), median(supLink), median(supKnown), median(evFloor), median(evParse), median(evLink)];
console.log(`\nCSTA link, ${EXTENSIONS.toLocaleString('en-US')} extensions, ${EVENTS.toLocaleString('en-US')} events, loopback TCP, median of ${RUNS} runs\n`);
console.log(
  table([
    ['measure', 'floor (bare client, same socket)', 'link', 'ratio'],
    [`bring ${EXTENSIONS.toLocaleString('en-US')} extensions under supervision`, `${ms(sf)} (${rate(EXTENSIONS, sf)})`, `${ms(sl)} (${rate(EXTENSIONS, sl)})`, `${(sl / sf).toFixed(2)}×`],
    ['  … and every state known (SnapshotDevice answered)', '', `${ms(sk)} (${rate(EXTENSIONS, sk)})`, `${(sk / sf).toFixed(2)}×`],
    ['events: simulator raw frames → counted', `${ms(ef)} (${rate(EVENTS, ef)})`, '', ''],
    ['events: + XML parse (saxes, no state)', `${ms(ep)} (${rate(EVENTS, ep)})`, '', `${(ep / ef).toFixed(2)}× raw`],
    ['events processed by the link (state per extension)', '', `${ms(el)} (${rate(EVENTS, el)})`, `${(el / ef).toFixed(2)}× raw, ${(el / ep).toFixed(2)}× parse`],
  ]),
);
