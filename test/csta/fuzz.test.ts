/**
 * Whatever bytes a switch sends, the CSTA code fails only in the ways it declares: a FrameError
 * (framing lost: reconnect) or a CstaXmlError (bad message: reconnect), never a TypeError or a
 * crash; and a link fed mutated streams over a real socket always comes back supervising.
 */
import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder, FrameError } from '../../src/csta/frame.js';
import { CstaLink } from '../../src/csta/link.js';
import {
  CSTA_NS,
  connectionClearedEvent,
  CstaXmlError,
  deliveredEvent,
  errorOf,
  eventOf,
  monitorStartResponse,
  parseMessage,
  snapshotStateOf,
  systemStatus,
} from '../../src/csta/messages.js';
import { cleanups, startSimulator } from './helpers.js';

const cleanup = cleanups();

/** A deterministic generator (the runs are reproducible). */
function random(seed: number): () => number {
  return () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
}

const party = { monitorCrossRefId: '7', callId: 'C1', device: '2001', calling: '2002', called: '2001' } as const;
const VALID = Buffer.concat([
  encodeFrame(1, systemStatus(CSTA_NS.ed4)),
  encodeFrame(2, monitorStartResponse(CSTA_NS.ed4, '7')),
  encodeFrame(9999, deliveredEvent(CSTA_NS.ed4, { ...party, localConnectionInfo: 'alerting' })),
  encodeFrame(9999, connectionClearedEvent(CSTA_NS.ed4, { ...party, localConnectionInfo: 'null', releasing: '2002' })),
]);
const NASTY = ['<', '>', '/', '&', ';', '"', '=', ':', '\u0000', '\u00ff', '9', 'x', ' ', '<!DOCTYPE a [<!ENTITY b "c">]>', '<![CDATA[', ']]>', '&#0;', '&unknown;'];

function mutate(rand: () => number): Buffer {
  const bytes = [...VALID];
  const edits = 1 + Math.floor(rand() * 5);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * bytes.length);
    const op = rand();
    if (op < 0.3) bytes.splice(at, 1 + Math.floor(rand() * 8));
    else if (op < 0.6) bytes.splice(at, 0, ...Buffer.from(NASTY[Math.floor(rand() * NASTY.length)]!, 'latin1'));
    else if (op < 0.8) bytes[at] = Math.floor(rand() * 256);
    else bytes.length = at;
  }
  return Buffer.from(bytes);
}

describe('CSTA input fuzzing', () => {
  it('decodes 3,000 mutated streams failing only with FrameError or CstaXmlError', () => {
    const rand = random(8);
    const seen = { frameErrors: 0, xmlErrors: 0, messages: 0 };
    for (let i = 0; i < 3000; i++) {
      const stream = mutate(rand);
      const decoder = new FrameDecoder();
      try {
        // Fed in random chunks, as a socket would.
        for (let at = 0; at < stream.length; ) {
          const n = 1 + Math.floor(rand() * 300);
          for (const f of decoder.push(stream.subarray(at, at + n))) {
            try {
              const msg = parseMessage(f.xml);
              seen.messages++;
              eventOf(msg);
              errorOf(msg);
              snapshotStateOf(msg);
            } catch (e) {
              if (!(e instanceof CstaXmlError)) throw e;
              seen.xmlErrors++;
            }
          }
          at += n;
        }
      } catch (e) {
        if (!(e instanceof FrameError)) throw e;
        seen.frameErrors++;
      }
    }
    // The mutations reach every path.
    expect(seen.frameErrors).toBeGreaterThan(100);
    expect(seen.xmlErrors).toBeGreaterThan(100);
    expect(seen.messages).toBeGreaterThan(1000);
  });

  it('a link fed mutated streams by its switch keeps coming back and supervising', async () => {
    const sim = await startSimulator(cleanup);
    const link = new CstaLink({ host: '127.0.0.1', port: sim.port, backoff: { initialMs: 10, maxMs: 20 } });
    cleanup.push(() => link.stop());
    link.setExtensions(['2001', '2002', '2003']);
    link.start();
    const until = async (check: () => boolean, what: string) => {
      const end = Date.now() + 10_000;
      while (!check()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(link.status())}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const rand = random(23);
    for (let i = 0; i < 25; i++) {
      await until(() => link.status().current === 3 && link.status().state === 'up', `supervision before mutation ${i}`);
      sim.sendRaw(mutate(rand));
      await new Promise((r) => setTimeout(r, 20)); // loopback: a broken stream has dropped the link by then
    }
    // Some mutations broke the stream: the link reconnected, and supervises again.
    await until(() => link.status().connects > 1 && link.status().current === 3 && link.status().state === 'up', 'supervision after the mutations');
    expect(sim.monitored().size).toBe(3);
  });
});
