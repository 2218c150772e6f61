/**
 * Values nested 20,000 and 100,000 levels deep handed to the runtime in process (as the
 * embedded CLI does): refused with a `too-deep` problem or a RuntimeError naming where, never a
 * stack overflow; the store is unchanged and the runtime keeps working.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { describeJsonPath, JsonTooDeepError, MAX_JSON_DEPTH, tooDeepAt } from '../../src/runtime/json-depth.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { Change } from '../../src/runtime/types.js';
import { changeSet, open, tempDir } from './helpers.js';

/** `[[[…]]]`, `depth` arrays deep (JSON.parse builds it without recursion). */
export function deepArray(depth: number): unknown {
  return JSON.parse('['.repeat(depth) + ']'.repeat(depth));
}

/** `{"a": {"a": … 1}}`, `depth` objects deep. */
export function deepObject(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

let rt: Runtime;

beforeAll(async () => {
  rt = await open(path.join(tempDir(), '.switchboard'), { startEngines: false });
  const r = rt.apply(
    changeSet(0, [
      { action: 'create', kind: 'Company', id: 'acme', body: { name: 'acme' } },
      { action: 'create', kind: 'Domain', id: 'acme/paris', body: { company: 'acme', name: 'paris', internalLength: 4 } },
    ]),
  );
  expect(r.ok).toBe(true);
});
afterAll(async () => {
  await rt?.close();
});

const shapes = [
  ['arrays', deepArray],
  ['objects', deepObject],
] as const;

describe('tooDeepAt', () => {
  it('measures depth in containers and stops at the limit, whatever the depth', () => {
    expect(tooDeepAt(1)).toBeUndefined();
    expect(tooDeepAt(deepArray(MAX_JSON_DEPTH))).toBeUndefined();
    expect(tooDeepAt(deepArray(MAX_JSON_DEPTH + 1))).toHaveLength(MAX_JSON_DEPTH);
    expect(tooDeepAt(deepObject(MAX_JSON_DEPTH))).toBeUndefined();
    expect(tooDeepAt({ ok: [1, { b: 2 }], deep: deepObject(MAX_JSON_DEPTH) })?.slice(0, 3)).toEqual(['deep', 'a', 'a']);
    expect(tooDeepAt(deepArray(1_000_000))).toHaveLength(MAX_JSON_DEPTH);
    expect(describeJsonPath(['changes', 0, 'body', 'firstName', 0, 0, 0, 0, 0, 0])).toBe('changes/0/body/firstName/0/0/0/0/…');
    const cyclic: Record<string, unknown> = { name: 'x' };
    cyclic.self = cyclic;
    expect(tooDeepAt(cyclic)).toHaveLength(MAX_JSON_DEPTH);
  });
});

describe('Runtime.apply', () => {
  for (const [shape, make] of shapes) {
    for (const depth of [20_000, 100_000]) {
      it(`refuses a body with ${shape} ${depth.toLocaleString('en-US')} deep as too-deep, and applies nothing`, () => {
        const before = rt.revision();
        const result = rt.apply(changeSet(before, [{ action: 'create', kind: 'User', id: 'acme/paris/deep', body: { domain: 'acme/paris', username: 'deep', firstName: make(depth) } }]));
        expect(result.ok).toBe(false);
        if (result.ok) return;
        expect(result.code).toBe('invalid');
        expect(result.problems).toHaveLength(1);
        expect(result.problems[0]).toMatchObject({ code: 'too-deep', kind: 'User', id: 'acme/paris/deep' });
        expect(result.problems[0]!.message).toMatch(/^change 1: the body of User 'acme\/paris\/deep' nests more than 64 levels deep \(at firstName\/(0|a)\/(0|a)\/.*…\)/);
        expect(rt.revision()).toBe(before);
        expect(rt.get('User', 'acme/paris/deep')).toBeUndefined();
      });
    }
  }

  it('refuses a deep secret field the same way (before the secret is encrypted or cloned)', () => {
    const result = rt.apply(changeSet(rt.revision(), [{ action: 'create', kind: 'User', id: 'acme/paris/deep', body: { domain: 'acme/paris', username: 'deep', password: deepArray(100_000) } }]));
    expect(result).toMatchObject({ ok: false, code: 'invalid', problems: [{ code: 'too-deep', path: expect.stringMatching(/^password\.0\.0/) }] });
  });

  it('refuses a body that refers to itself', () => {
    const body: Record<string, unknown> = { domain: 'acme/paris', username: 'loop' };
    body.devices = [body];
    const result = rt.apply(changeSet(rt.revision(), [{ action: 'create', kind: 'User', id: 'acme/paris/loop', body }]));
    expect(result).toMatchObject({ ok: false, code: 'invalid', problems: [{ code: 'too-deep' }] });
  });

  it('still judges a body just under the limit by its schema, and then applies a good one', () => {
    // 64 levels in all: the body object, then 63 arrays.
    const result = rt.apply(changeSet(rt.revision(), [{ action: 'create', kind: 'User', id: 'acme/paris/near', body: { domain: 'acme/paris', username: 'near', firstName: deepArray(MAX_JSON_DEPTH - 1) } }]));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.some((p) => p.code === 'too-deep')).toBe(false);
    expect(JSON.stringify(result.problems)).toContain('firstName');
    const good = rt.apply(changeSet(rt.revision(), [{ action: 'create', kind: 'User', id: 'acme/paris/ok', body: { domain: 'acme/paris', username: 'ok', firstName: 'Ok' } }]));
    expect(good.ok).toBe(true);
  });
});

describe('Runtime.impact', () => {
  for (const [shape, make] of shapes) {
    for (const depth of [20_000, 100_000]) {
      it(`throws a RuntimeError (too-deep) for a body with ${shape} ${depth.toLocaleString('en-US')} deep`, () => {
        const changes: Change[] = [
          { action: 'delete', kind: 'User', id: 'acme/paris/ok' },
          { action: 'create', kind: 'PbxLink', id: 'acme/paris/pbx', body: { domain: 'acme/paris', name: 'pbx', protocol: 'csta', ip: make(depth) } },
        ];
        let thrown: unknown;
        try {
          rt.impact(changes);
        } catch (e) {
          thrown = e;
        }
        expect(thrown).toBeInstanceOf(JsonTooDeepError);
        expect((thrown as Error).name).toBe('RuntimeError');
        expect((thrown as JsonTooDeepError).code).toBe('too-deep');
        expect((thrown as Error).message).toMatch(/^change 2: the body of PbxLink 'acme\/paris\/pbx' nests more than 64 levels deep \(at ip\//);
      });
    }
  }

  it('answers as before for ordinary changes', () => {
    expect(rt.impact([{ action: 'delete', kind: 'User', id: 'acme/paris/ok' }])).toEqual([]);
  });
});
