/** ECMA-323 Annex J.2 framing: the bytes of csta.md's examples, incremental decoding, and every refusal. */
import { describe, expect, it } from 'vitest';
import { encodeFrame, EVENT_INVOKE_ID, FrameDecoder, FrameError, HEADER_BYTES, MAX_FRAME_BYTES, type FrameErrorCode } from '../../src/csta/frame.js';

/** An OpenScape Voice event body padded to `bytes` bytes (the trace's frame is 1003 bytes long). */
function eventBody(bytes: number): string {
  const head = '<?xml version="1.0" encoding="UTF-8"?><ServiceInitiatedEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed4"><monitorCrossRefID>1</monitorCrossRefID>';
  const tail = '</ServiceInitiatedEvent>';
  return head + ' '.repeat(bytes - head.length - tail.length) + tail;
}

function codeOf(f: () => unknown): FrameErrorCode | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof FrameError) return e.code;
    throw e;
  }
  return undefined;
}

describe('encodeFrame', () => {
  it('writes version 0, the big-endian total length (header included) and 4 ASCII digits', () => {
    const frame = encodeFrame(1, '<a/>');
    expect([...frame.subarray(0, HEADER_BYTES)]).toEqual([0, 0, 0, 12, 0x30, 0x30, 0x30, 0x31]);
    expect(frame.subarray(8).toString()).toBe('<a/>');
  });

  it("matches the OpenScape Voice trace: \\x00\\x00\\x03\\xeb9999<?xml for a 1003-byte event", () => {
    const frame = encodeFrame(EVENT_INVOKE_ID, eventBody(995));
    expect(frame.length).toBe(1003);
    expect(frame.subarray(0, 13).toString('latin1')).toBe('\x00\x00\x03\xeb9999<?xml');
  });

  it('counts UTF-8 bytes, not characters', () => {
    const frame = encodeFrame(42, '<n>Zoë 日本</n>');
    expect(frame.readUInt16BE(2)).toBe(8 + Buffer.byteLength('<n>Zoë 日本</n>'));
    expect(frame.subarray(4, 8).toString('latin1')).toBe('0042');
  });

  it('refuses a frame over 65,535 bytes and an invoke id over 9999', () => {
    expect(encodeFrame(0, 'x'.repeat(MAX_FRAME_BYTES - 8)).length).toBe(MAX_FRAME_BYTES);
    expect(codeOf(() => encodeFrame(0, 'x'.repeat(MAX_FRAME_BYTES - 7)))).toBe('too-large');
    expect(codeOf(() => encodeFrame(10000, '<a/>'))).toBe('bad-invoke-id');
    expect(codeOf(() => encodeFrame(-1, '<a/>'))).toBe('bad-invoke-id');
    expect(codeOf(() => encodeFrame(1.5, '<a/>'))).toBe('bad-invoke-id');
  });
});

describe('FrameDecoder', () => {
  it('round-trips frames', () => {
    const d = new FrameDecoder();
    const xml = eventBody(995);
    expect(d.push(encodeFrame(9999, xml))).toEqual([{ invokeId: 9999, xml }]);
    expect(d.push(encodeFrame(7, '<a>é</a>'))).toEqual([{ invokeId: 7, xml: '<a>é</a>' }]);
    expect(d.buffered).toBe(0);
  });

  it('decodes the trace bytes', () => {
    const bytes = Buffer.concat([Buffer.from('\x00\x00\x03\xeb9999', 'latin1'), Buffer.from(eventBody(995))]);
    const [frame] = new FrameDecoder().push(bytes);
    expect(frame?.invokeId).toBe(9999);
    expect(frame?.xml.startsWith('<?xml')).toBe(true);
  });

  it('reassembles a stream split at every byte boundary (multi-byte characters included)', () => {
    const frames = [encodeFrame(1, '<a>Zoë</a>'), encodeFrame(2, '<b/>'), encodeFrame(9999, '<c>日本</c>')];
    const stream = Buffer.concat(frames);
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new FrameDecoder();
      const got = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
      expect(got.map((f) => `${f.invokeId}:${f.xml}`)).toEqual(['1:<a>Zoë</a>', '2:<b/>', '9999:<c>日本</c>']);
      expect(d.buffered).toBe(0);
    }
  });

  it('delivers byte-by-byte input and several frames in one chunk', () => {
    const stream = Buffer.concat(Array.from({ length: 50 }, (_, i) => encodeFrame(i, `<m n="${i}"/>`)));
    const d = new FrameDecoder();
    const one: number[] = [];
    for (const b of stream) one.push(...d.push(Buffer.from([b])).map((f) => f.invokeId));
    expect(one).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(new FrameDecoder().push(stream)).toHaveLength(50);
  });

  it('keeps a partial frame and reports it as buffered', () => {
    const d = new FrameDecoder();
    const frame = encodeFrame(3, '<abc/>');
    expect(d.push(frame.subarray(0, 10))).toEqual([]);
    expect(d.buffered).toBe(10);
    expect(d.push(frame.subarray(10))).toEqual([{ invokeId: 3, xml: '<abc/>' }]);
  });

  const header = (version: number, length: number, id: string) => {
    const b = Buffer.alloc(8);
    b.writeUInt16BE(version, 0);
    b.writeUInt16BE(length, 2);
    b.write(id, 4, 'latin1');
    return b;
  };

  it.each<[string, Buffer, FrameErrorCode]>([
    ['a version other than 0', header(1, 12, '0001'), 'bad-version'],
    ['a length shorter than the header', header(0, 7, '0001'), 'bad-length'],
    ['a non-digit invoke id', header(0, 12, '00a1'), 'bad-invoke-id'],
    ['a space in the invoke id', header(0, 12, ' 001'), 'bad-invoke-id'],
  ])('refuses %s as soon as the header is in', (_, bytes, code) => {
    expect(codeOf(() => new FrameDecoder().push(bytes))).toBe(code);
  });

  it('refuses a frame larger than the configured maximum before its body arrives', () => {
    const d = new FrameDecoder(100);
    expect(codeOf(() => d.push(header(0, 101, '0001')))).toBe('too-large');
    expect(new FrameDecoder(100).push(encodeFrame(1, 'x'.repeat(92)))).toHaveLength(1);
  });

  it('refuses a body that is not UTF-8', () => {
    const bad = Buffer.concat([header(0, 12, '0005'), Buffer.from([0x3c, 0xc3, 0x28, 0x3e])]);
    expect(codeOf(() => new FrameDecoder().push(bad))).toBe('bad-encoding');
  });

  it('finds a bad header that follows good frames in the same chunk', () => {
    const d = new FrameDecoder();
    expect(codeOf(() => d.push(Buffer.concat([encodeFrame(1, '<a/>'), Buffer.from('GET / HTTP/1.1\r\n')])))).toBe('bad-version');
  });
});
