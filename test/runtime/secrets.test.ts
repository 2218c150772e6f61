import { chmodSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KeyFileError } from '../../src/runtime/crypto.js';
import type { CommittedEvent } from '../../src/runtime/core.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { isSecretFingerprint, type ChangeSetResult } from '../../src/runtime/types.js';
import { ADMIN_PASSWORD, changeSet, creates, CSTA_PASSWORD, open, quickstart, recordingLog, SECRETS, tempDir } from './helpers.js';

const opened: Runtime[] = [];
afterEach(async () => {
  for (const rt of opened.splice(0)) await rt.close();
});
async function withQuickstart(dir = tempDir(), log = recordingLog()): Promise<Runtime> {
  const rt = await open(dir, { log });
  opened.push(rt);
  expect(rt.apply(changeSet(0, creates(quickstart())))).toMatchObject({ ok: true, revision: 1 });
  return rt;
}
const refused = (r: ChangeSetResult) => {
  if (r.ok) throw new Error('expected a refusal');
  return r;
};
const linkId = 'acme/paris/pbx';

describe('secrets', () => {
  it('are encrypted at rest: the clear values are in no file of the data directory', async () => {
    const dir = tempDir();
    const rt = await withQuickstart(dir);
    await rt.close();
    const files = readdirSync(dir);
    expect(files).toEqual(expect.arrayContaining(['switchboard.db', 'secret.key']));
    for (const f of files) {
      const bytes = readFileSync(path.join(dir, f));
      for (const s of SECRETS) expect(bytes.includes(Buffer.from(s)), `${s} in ${f}`).toBe(false);
    }
  });

  it('the key file is created 0600, and a key file others can read is refused', async () => {
    const dir = tempDir();
    await withQuickstart(dir);
    const key = path.join(dir, 'secret.key');
    expect(statSync(key).mode & 0o777).toBe(0o600);
    chmodSync(key, 0o644);
    await expect(open(dir)).rejects.toThrow(KeyFileError);
    await expect(open(dir)).rejects.toThrow(/chmod 600/);
  });

  it('live bodies hold keyed fingerprints: stable in a data directory, different across them', async () => {
    const a = await withQuickstart();
    const b = await withQuickstart();
    const fpA = a.get('PbxLink', linkId)!.body.password;
    expect(isSecretFingerprint(fpA)).toBe(true);
    expect((fpA as { $secret: string }).$secret).toMatch(/^hmac-sha256:[A-Za-z0-9_-]{43}$/);
    expect(a.fingerprint([CSTA_PASSWORD])).toEqual([(fpA as { $secret: string }).$secret]);
    expect(b.fingerprint([CSTA_PASSWORD])[0]).not.toBe(a.fingerprint([CSTA_PASSWORD])[0]);
    const again = await open(a.dataDir);
    opened.push(again);
    expect(again.get('PbxLink', linkId)!.body.password).toEqual(fpA);
    expect(a.fingerprint(['x', 'y'])).toHaveLength(2);
  });

  it('{ $secret } keeps the stored value only when it names the current one', async () => {
    const rt = await withQuickstart();
    const link = rt.get('PbxLink', linkId)!;
    const fp = link.body.password;
    // Keep: the live body goes back as is.
    expect(rt.apply(changeSet(1, [{ action: 'update', kind: 'PbxLink', id: linkId, body: { ...link.body, capacity: 200 } }]))).toMatchObject({ ok: true });
    expect(rt.get('PbxLink', linkId)!.body).toMatchObject({ capacity: 200, password: fp });
    // A fingerprint of something else is refused, precisely, without any value in the message.
    const r = refused(rt.apply(changeSet(2, [{ action: 'update', kind: 'PbxLink', id: linkId, body: { ...link.body, password: { $secret: rt.fingerprint(['guess'])[0]! } } }])));
    expect(r).toMatchObject({ code: 'invalid', problems: [{ code: 'secret-fingerprint', kind: 'PbxLink', id: linkId, path: 'password' }] });
    // A fingerprint on create has nothing to keep.
    const r2 = refused(rt.apply(changeSet(2, [{ action: 'create', kind: 'PbxLink', id: 'acme/paris/pbx2', body: { ...link.body, name: 'pbx2' } }])));
    expect(r2.problems[0]!.message).toMatch(/has no secret yet: send the value/);
    // A new value changes the fingerprint.
    expect(rt.apply(changeSet(2, [{ action: 'update', kind: 'PbxLink', id: linkId, body: { ...link.body, password: 'rotated-Pa55' } }]))).toMatchObject({ ok: true });
    expect(rt.get('PbxLink', linkId)!.body.password).toEqual({ $secret: rt.fingerprint(['rotated-Pa55'])[0] });
  });

  it('a kept secret survives reordering within its resource', async () => {
    const rt = await withQuickstart();
    const body = { domain: 'acme/paris', name: 'Hotline', devices: [{ number: '6001', protocol: 'VTI-XML', password: 'one-Pa55' }, { number: '6002', protocol: 'VTI-XML', password: 'two-Pa55' }] };
    expect(rt.apply(changeSet(1, [{ action: 'create', kind: 'IntercomGroup', id: 'acme/paris/Hotline', body }]))).toMatchObject({ ok: true });
    const live = rt.get('IntercomGroup', 'acme/paris/Hotline')!;
    const devices = live.body.devices as { password: unknown }[];
    const swapped = { ...live.body, devices: [devices[1], devices[0]] };
    expect(rt.apply(changeSet(2, [{ action: 'update', kind: 'IntercomGroup', id: 'acme/paris/Hotline', body: swapped }]))).toMatchObject({ ok: true });
    const after = rt.get('IntercomGroup', 'acme/paris/Hotline')!.body.devices as { number: string; password: unknown }[];
    expect(after.map((d) => [d.number, d.password])).toEqual([
      ['6002', { $secret: rt.fingerprint(['two-Pa55'])[0] }],
      ['6001', { $secret: rt.fingerprint(['one-Pa55'])[0] }],
    ]);
  });

  it('nothing returned, logged, audited or broadcast contains a clear secret', async () => {
    const log = recordingLog();
    const dir = tempDir();
    const rt = await open(dir, { log });
    opened.push(rt);
    const events: CommittedEvent[] = [];
    rt.subscribe((e) => events.push(e));
    const outputs: unknown[] = [];
    outputs.push(rt.apply(changeSet(0, creates(quickstart()))));
    const link = rt.get('PbxLink', linkId)!;
    // A refusal while secrets are in the change set (and one whose rule reads the secret).
    outputs.push(rt.apply(changeSet(1, [{ action: 'update', kind: 'PbxLink', id: linkId, body: { ...link.body, password: CSTA_PASSWORD, port: 'nope' } }])));
    outputs.push(rt.apply(changeSet(1, [{ action: 'update', kind: 'PbxLink', id: linkId, body: { ...link.body, password: 12 } }])));
    outputs.push(rt.apply(changeSet(1, [{ action: 'update', kind: 'PbxLink', id: linkId, body: { ...link.body, password: ADMIN_PASSWORD } }], 'api')));
    outputs.push(rt.state(), rt.audit(), rt.status(), rt.get('AdminAccount', 'acme-admin'), rt.impact(creates(quickstart())));
    outputs.push(rt.impact([{ action: 'update', kind: 'PbxLink', id: linkId, body: { ...link.body, password: 'new-Pa55' } }]));
    outputs.push(events, log.lines);
    const all = JSON.stringify(outputs);
    for (const s of SECRETS) expect(all.includes(s), s).toBe(false);
    expect(all).toContain('(sensitive)');
    const audit = rt.audit();
    expect(audit[0]!.changes[0]).toMatchObject({ before: { password: '(sensitive)' }, after: { password: '(sensitive)' } });
  });
});
