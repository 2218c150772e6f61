/**
 * Issue 12, class 3: a domain whose incoming dial-plan rule is adversarial. With V8's backtracking
 * engine one `GET /v1/lookup` blocked the event loop for seconds (minutes with 40 optional
 * digits), so `serve` stopped answering even `/healthz`. The bounded matcher answers at once.
 * The server runs in this process, so a blocked event loop shows as a late `/healthz` answer
 * (the rule below takes V8 seconds per lookup), not as a hung test.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { call, seed, startServer, type TestServer } from './helpers.js';

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

/** 36 optional digits then #: seconds to tens of seconds for V8 on a 10-digit caller, nothing for the bounded matcher. */
const ADVERSARIAL = `[${'\\d?'.repeat(36)}#]`;

describe('GET /v1/lookup with an adversarial incoming rule', () => {
  it('answers, and /healthz keeps answering while it does', async () => {
    s = await startServer();
    const { alice } = seed(s);
    const r = s.runtime.apply({
      baseRevision: s.runtime.revision(),
      changes: [
        {
          action: 'create',
          kind: 'DialPlan',
          id: 'acme/paris',
          body: {
            domain: 'acme/paris',
            incoming: [
              { priority: 1, pattern: ADVERSARIAL, value: '9' },
              { priority: 2, pattern: `[${'(?:\\d|\\d)'.repeat(30)}#]`, value: '9' },
            ],
          },
        },
        { action: 'create', kind: 'User', id: 'acme/paris/mdupont', body: { domain: 'acme/paris', username: 'mdupont', lastName: 'Dupont', password: 'Md-clear-pass-4410', mobile: '+33 6 12 34 56 78' } },
      ],
      origin: { via: 'plan', actor: 'test' },
    });
    if (!r.ok) throw new Error(`${r.message}\n${JSON.stringify(r.problems, null, 2)}`);

    // (a 10-digit caller: on 64 digits V8 would not finish at all, and this test would hang)
    const lookups = Promise.all(
      ['0612345678', '+33 6 12 34 56 78'].map((number) => call(s!.url, 'GET', `/v1/lookup?domain=acme%2Fparis&number=${encodeURIComponent(number)}`, { token: alice })),
    );
    let done = false;
    const finish = () => (done = true);
    lookups.then(finish, finish);
    // /healthz asked again and again until the lookups are answered: in this process, a blocked
    // event loop makes the request in flight late
    let slowest = 0;
    let health;
    do {
      const started = performance.now();
      health = await call(s.url, 'GET', '/healthz');
      slowest = Math.max(slowest, performance.now() - started);
      expect(health.status).toBe(200);
    } while (!done);
    const [found, international] = await lookups;

    expect(slowest).toBeLessThan(1_000);
    expect(found!.status).toBe(200);
    expect(found!.body.key).toBe('612345678');
    expect(found!.body.matches.map((m: { id: string }) => m.id)).toEqual(['acme/paris/mdupont']);
    expect(international!.status).toBe(200);
    expect(international!.body.key).toBe('612345678');
  });
});
