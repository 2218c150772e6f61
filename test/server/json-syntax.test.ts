/**
 * The JSON syntax scanner behind the server's "not valid JSON" 400: it agrees with JSON.parse on
 * what is valid (seeded mutations of real bodies), points at the place, and the server's message
 * gives that place without quoting the body.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonSyntaxError, lineColumn } from '../../src/server/json-syntax.js';
import { call, startServer, type TestServer } from './helpers.js';
import { prng } from '../prng.js';

const valid = (text: string) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

describe('jsonSyntaxError', () => {
  it.each([
    ['{"a": 1,\n "b": x}', 15, 'a value'],
    ['{"baseRevision": 1, "changes": [', 32, 'more: the body ends too early'],
    ['{"a":1} x', 8, 'nothing after the JSON value'],
    ['[1,]', 3, 'a value'],
    ['{"a" 1}', 5, "':' after the key"],
    ['{"a":1,}', 7, 'a key in double quotes'],
    ['[01]', 2, "',' or ']'"],
    ['"abc', 4, "the closing '\"' of a string"],
    ['{"a":"\\q"}', 6, 'an escape'],
    ['"\\u12G4"', 1, 'four hex digits'],
  ])('%j: at %i, expected %s', (text, at, expected) => {
    expect(valid(text)).toBe(false);
    const e = jsonSyntaxError(text)!;
    expect(e.at).toBe(at);
    expect(e.expected.startsWith(expected)).toBe(true);
  });

  it('agrees with JSON.parse on 20,000 seeded mutations of real bodies', () => {
    const rand = prng(7);
    const seeds = [
      JSON.stringify({ baseRevision: 3, changes: [{ action: 'create', kind: 'User', id: 'acme/paris/é', body: { domain: 'acme/paris', username: 'é', devices: [{ number: '1001' }], n: -1.5e-3, t: true, f: false, z: null } }], origin: { via: 'plan' } }),
      JSON.stringify({ values: ['a"b', 'c\\d', '\u0007', '€'] }, null, 2),
      '[[], {}, [{}], "", 0, -0, 1E+2]',
    ];
    const alphabet = '{}[]":,\\-+.eE0123456789 \n\tabcdefnrtlsu/\u0000\u001f';
    for (let k = 0; k < 20_000; k++) {
      let text = seeds[k % seeds.length]!;
      for (let m = 0, count = 1 + Math.floor(rand() * 3); m < count; m++) {
        const i = Math.floor(rand() * (text.length + 1));
        const ch = alphabet[Math.floor(rand() * alphabet.length)]!;
        const op = rand();
        text = op < 0.4 ? text.slice(0, i) + ch + text.slice(i) : op < 0.8 ? text.slice(0, i) + text.slice(i + 1) : text.slice(0, i);
      }
      expect(jsonSyntaxError(text) === undefined, JSON.stringify(text)).toBe(valid(text));
    }
  });

  it('is iterative: 1,000,000 unclosed brackets cost nothing', () => {
    expect(jsonSyntaxError('['.repeat(1_000_000))).toEqual({ at: 1_000_000, expected: 'more: the body ends too early' });
  });

  it('lineColumn counts from 1', () => {
    expect(lineColumn('ab\ncd\nef', 0)).toEqual({ line: 1, column: 1 });
    expect(lineColumn('ab\ncd\nef', 4)).toEqual({ line: 2, column: 2 });
    expect(lineColumn('ab\ncd\nef', 8)).toEqual({ line: 3, column: 3 });
  });
});

describe('the server says where a body stops being JSON, quoting nothing', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer();
  });
  afterAll(async () => {
    await s?.close();
  });

  it.each([
    ['{"values": ["Secret-Value-1",\n  Secret-Value-2]}', 'at line 2, column 3, expected a value (an object, array, string, number, true, false or null)'],
    ['{"values": ["Secret-Value-1"', 'at line 1, column 29, expected more: the body ends too early'],
    ['{"values": ["Secret-Value-1"]} trailing', 'at line 1, column 32, expected nothing after the JSON value'],
  ])('%j', async (body, where) => {
    const r = await call(s.url, 'POST', '/v1/fingerprints', { token: s.adminToken, rawBody: body });
    expect(r.status).toBe(400);
    expect(r.body.error).toEqual({ status: 400, code: 'bad-request', message: `the request body is not valid JSON: ${where}` });
    expect(r.text).not.toContain('Secret-Value');
  });

  it('names a prototype-poisoning key', async () => {
    const r = await call(s.url, 'POST', '/v1/fingerprints', { token: s.adminToken, rawBody: '{"values": [], "__proto__": {"isAdmin": true}}' });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toBe('the request body has a "__proto__" key or a "constructor" key holding "prototype": such keys are refused');
  });
});
