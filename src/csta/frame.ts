/**
 * CSTA XML framing over TCP (ECMA-323 Annex J.2, "CSTA XML without SOAP"): every message is an
 * 8-byte header then the XML body (UTF-8).
 *
 * | bytes | content |
 * | --- | --- |
 * | 0–1 | version, `0x0000` |
 * | 2–3 | big-endian uint16: total length, header included |
 * | 4–7 | invoke id, 4 ASCII decimal digits (`0001`); `9999` marks unsolicited events |
 *
 * A response echoes the invoke id of its request. A bad header is fatal for the connection:
 * once the framing is lost nothing after it can be trusted, so the decoder throws a
 * {@link FrameError} and the caller drops the connection (and reconnects).
 */

export const HEADER_BYTES = 8;
/** The 16-bit length field caps a frame (header included) at this many bytes. */
export const MAX_FRAME_BYTES = 0xffff;
/** Invoke id of unsolicited events; never used for a request. */
export const EVENT_INVOKE_ID = 9999;

export interface Frame {
  readonly invokeId: number;
  readonly xml: string;
}

export type FrameErrorCode = 'bad-version' | 'bad-length' | 'bad-invoke-id' | 'too-large' | 'bad-encoding';

/** The byte stream is not CSTA framing (or a frame is larger than allowed). */
export class FrameError extends Error {
  constructor(
    readonly code: FrameErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'FrameError';
  }
}

/** One frame's bytes: header + UTF-8 body. Throws a {@link FrameError} when it cannot be framed. */
export function encodeFrame(invokeId: number, xml: string): Buffer {
  if (!Number.isInteger(invokeId) || invokeId < 0 || invokeId > 9999) throw new FrameError('bad-invoke-id', `invoke id ${invokeId} is not 0–9999`);
  const body = Buffer.from(xml, 'utf8');
  const total = HEADER_BYTES + body.length;
  if (total > MAX_FRAME_BYTES) throw new FrameError('too-large', `a ${total}-byte frame does not fit the 16-bit length field (at most ${MAX_FRAME_BYTES} bytes)`);
  const frame = Buffer.allocUnsafe(total);
  frame.writeUInt16BE(0, 0);
  frame.writeUInt16BE(total, 2);
  frame.write(String(invokeId).padStart(4, '0'), 4, 4, 'latin1');
  body.copy(frame, HEADER_BYTES);
  return frame;
}

const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Incremental decoder: feed it the socket's chunks, get whole frames back. Holds at most one
 * partial frame (never more than `maxFrameBytes`); checks each header before waiting for its body.
 */
export class FrameDecoder {
  readonly #max: number;
  #pending: Buffer | undefined;

  /** `maxFrameBytes`: largest frame accepted, header included (default and upper bound 65,535). */
  constructor(maxFrameBytes: number = MAX_FRAME_BYTES) {
    this.#max = Math.min(Math.max(maxFrameBytes, HEADER_BYTES), MAX_FRAME_BYTES);
  }

  /** Bytes received but not yet part of a whole frame. */
  get buffered(): number {
    return this.#pending?.length ?? 0;
  }

  /** The frames completed by `chunk`, in order. Throws a {@link FrameError} on a bad header or body. */
  push(chunk: Buffer): Frame[] {
    let buf = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
    const frames: Frame[] = [];
    let at = 0;
    while (buf.length - at >= HEADER_BYTES) {
      const version = buf.readUInt16BE(at);
      if (version !== 0) throw new FrameError('bad-version', `frame header starts with 0x${version.toString(16).padStart(4, '0')}, expected version 0x0000: the stream is not CSTA framing`);
      const total = buf.readUInt16BE(at + 2);
      if (total < HEADER_BYTES) throw new FrameError('bad-length', `frame length ${total} is shorter than its ${HEADER_BYTES}-byte header`);
      if (total > this.#max) throw new FrameError('too-large', `frame of ${total} bytes is larger than the ${this.#max} allowed`);
      let invokeId = 0;
      for (let i = 4; i < 8; i++) {
        const c = buf[at + i]!;
        if (c < DIGIT_0 || c > DIGIT_9) throw new FrameError('bad-invoke-id', `invoke id bytes ${JSON.stringify(buf.subarray(at + 4, at + 8).toString('latin1'))} are not 4 decimal digits`);
        invokeId = invokeId * 10 + (c - DIGIT_0);
      }
      if (buf.length - at < total) break;
      let xml: string;
      try {
        xml = utf8.decode(buf.subarray(at + HEADER_BYTES, at + total));
      } catch {
        throw new FrameError('bad-encoding', `frame ${String(invokeId).padStart(4, '0')} is not valid UTF-8`);
      }
      frames.push({ invokeId, xml });
      at += total;
    }
    this.#pending = at === buf.length ? undefined : buf.subarray(at);
    if (this.#pending && at > 0) this.#pending = Buffer.from(this.#pending); // do not pin the whole chunk
    return frames;
  }
}
