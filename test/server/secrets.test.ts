/**
 * No secret value ever comes out of the server: not in a response (reads, writes, refusals,
 * errors), an event, a log line or an audit entry. The clear values are grepped for in
 * everything the server produced; tokens must not appear in logs either.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, readEvents, SECRETS, seed, startServer, type TestServer } from './helpers.js';

let s: TestServer;
let tokens: { alice: string; bob: string; root: string };
const outputs: string[] = [];
const NEW_SECRET = 'N3w-rotated-pass-4242';
const BAD_SECRET = 'Inv4lid-change-pass-8080';
const JSON_SECRET = 'Br0ken-json-pass-1212';

beforeAll(async () => {
  s = await startServer();
  tokens = seed(s);
  const t = { token: tokens.root };
  const jdoe = s.runtime.get('User', 'acme/paris/jdoe')!;
  const link = s.runtime.get('PbxLink', 'acme/paris/pbx')!;
  const record = async (p: Promise<{ text: string; headers: Headers }>) => {
    const r = await p;
    outputs.push(r.text, JSON.stringify([...r.headers.entries()]));
    return r;
  };

  // Events, while secrets are written through every path.
  const events = readEvents(s.url, '/v1/events', tokens.root, (ev) => ev.length >= 3, {
    onConnected: async () => {
      // A change set rotating a secret.
      await record(call(s.url, 'POST', '/v1/changesets', { ...t, body: { baseRevision: s.runtime.revision(), changes: [{ action: 'update', kind: 'User', id: jdoe.id, body: { ...jdoe.body, password: NEW_SECRET } }], origin: { via: 'plan' } } }));
      // Per-resource writes carrying secrets.
      await record(call(s.url, 'PUT', `/v1/resources/PbxLink/${encodeURIComponent(link.id)}`, { ...t, body: { ...link.body, password: 'Put-link-pass-3131' } }));
      await record(call(s.url, 'POST', '/v1/resources/User', { ...t, body: { domain: 'acme/paris', username: 'sec1', password: 'Post-user-pass-5151' } }));
    },
  });
  outputs.push((await events).raw);

  // Refusals and errors with secrets in the request.
  await record(call(s.url, 'POST', '/v1/changesets', { ...t, body: { baseRevision: s.runtime.revision(), changes: [{ action: 'update', kind: 'User', id: jdoe.id, body: { ...jdoe.body, password: BAD_SECRET, fistName: 'x' } }], origin: { via: 'plan' } } }));
  await record(call(s.url, 'POST', '/v1/changesets', { ...t, body: { baseRevision: 0, changes: [{ action: 'update', kind: 'User', id: jdoe.id, body: { ...jdoe.body, password: BAD_SECRET } }], origin: { via: 'plan' } } }));
  await record(call(s.url, 'POST', '/v1/changesets', { ...t, body: { baseRevision: s.runtime.revision(), changes: [{ action: 'update', kind: 'User', id: jdoe.id, body: { ...jdoe.body, password: { $secret: 'hmac-sha256:not-the-current-one' } } }], origin: { via: 'plan' } } }));
  await record(call(s.url, 'POST', '/v1/changesets', { ...t, rawBody: `{"baseRevision": 1, "changes": [{"password": "${JSON_SECRET}" ` }));
  await record(call(s.url, 'POST', '/v1/changesets', { ...t, body: { baseRevision: 1, changes: [{ action: 'update', kind: 'User', id: 'x', body: {}, password: BAD_SECRET }], origin: { via: 'plan' } } }));
  await record(call(s.url, 'POST', '/v1/fingerprints', { ...t, body: { values: [BAD_SECRET] } }));
  await record(call(s.url, 'POST', '/v1/resources/User', { token: tokens.alice, body: { domain: 'globex/berlin', username: 'x', password: BAD_SECRET } }));
  await record(call(s.url, 'POST', '/v1/impact', { ...t, body: { changes: [{ action: 'update', kind: 'User', id: jdoe.id, body: { ...jdoe.body, password: BAD_SECRET } }] } }));

  // Every read.
  for (const path of ['/v1/state', '/v1/state?company=acme', '/v1/resources/User', `/v1/resources/User/${encodeURIComponent(jdoe.id)}`, '/v1/resources/AdminAccount/alice', '/v1/resources/PbxLink', '/v1/audit?limit=1000', '/v1/status', '/v1/tokens', '/metrics']) {
    await record(call(s.url, 'GET', path, t));
  }
});

afterAll(async () => {
  await s?.close();
});

const CLEAR = [...Object.values(SECRETS), NEW_SECRET, BAD_SECRET, JSON_SECRET, 'Put-link-pass-3131', 'Post-user-pass-5151'];

describe('secrets never leave the server', () => {
  it('the writes went through (the secrets are really stored)', () => {
    const [fp] = s.runtime.fingerprint([NEW_SECRET]);
    expect(s.runtime.get('User', 'acme/paris/jdoe')!.body.password).toEqual({ $secret: fp });
    expect(s.runtime.get('User', 'acme/paris/sec1')).toBeDefined();
  });

  it.each(CLEAR)('%s is in no response, event or header', (secret) => {
    expect(outputs.length).toBeGreaterThan(20);
    for (const o of outputs) expect(o).not.toContain(secret);
  });

  it.each(CLEAR)('%s is in no log line', (secret) => {
    expect(s.logs.lines().length).toBeGreaterThan(20);
    expect(s.logs.text).not.toContain(secret);
  });

  it.each(CLEAR)('%s is in no audit entry', (secret) => {
    expect(JSON.stringify(s.runtime.audit({ limit: 10_000 }))).not.toContain(secret);
  });

  it('no token is in a log line', () => {
    for (const token of [s.adminToken, tokens.alice, tokens.bob, tokens.root]) expect(s.logs.text).not.toContain(token.slice(4));
  });

  it('every request was logged with its route, status and user', () => {
    const requests = s.logs.lines().filter((l) => l.msg === 'request');
    expect(requests.length).toBeGreaterThan(20);
    expect(requests.find((l) => l.route === '/v1/changesets' && l.status === 422)).toMatchObject({ method: 'POST', user: 'root' });
  });
});
