// Companies share nothing: a change set touching one company is judged by that company's
// state only (plus the few rules that are server-wide by nature: connector names, admin
// accounts). Two companies side by side, each with every kind the examples use — the
// multi-site example (connectors with presence templates, imports, directories, dial plans,
// SIP and CSTA links…) and a copy of it under another company name — must never block each
// other; a genuine cross-company conflict is still refused.
import { afterEach, describe, expect, it } from 'vitest';
import { cpSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Resource } from '../../src/model/resource.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { changeSet, creates, desired, open, ROOT, tempDir } from './helpers.js';

const ENV = Object.fromEntries(
  [
    'AD_IMPORT_PASSWORD',
    'EXCHANGE365_CLIENT_SECRET',
    'EXCHANGE_READER_PASSWORD',
    'J2S_SMS_KEY',
    'LDAP_READER_PASSWORD',
    'NICE_EXTENSION_PASSWORD',
    'PARIS_BOT_PASSWORD',
    'PARIS_EXTENSION_PASSWORD',
    'PARIS_SIP_PASSWORD',
    'SMTP_PASSWORD',
    'SSDEI_ADMIN_PASSWORD',
    'SWITCHBOARD_ROOT_PASSWORD',
  ].map((v) => [v, `value-of-${v}`]),
);

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? yamlFiles(p) : n.endsWith('.yaml') ? [p] : [];
  });
}

/** The multi-site example under company `name` (its connector renamed: connector names are server-wide), admins left out. */
function company(name: string): Resource[] {
  const dir = path.join(tempDir(), name);
  cpSync(path.join(ROOT, 'examples/multi-site'), dir, { recursive: true });
  rmSync(path.join(dir, 'admins.yaml'));
  for (const f of yamlFiles(dir)) {
    writeFileSync(f, readFileSync(f, 'utf8').replaceAll('SSDEI', name).replace(/^name: exchange365$/m, `name: exchange365-${name}`));
  }
  return desired(dir, ENV);
}

const opened: Runtime[] = [];
afterEach(async () => {
  for (const rt of opened.splice(0)) await rt.close();
});

async function twoCompanies() {
  const rt = await open(tempDir());
  opened.push(rt);
  const a = company('Alpha');
  const b = company('Beta');
  expect(rt.apply(changeSet(0, creates(a)))).toMatchObject({ ok: true });
  expect(rt.apply(changeSet(1, creates(b)))).toMatchObject({ ok: true });
  return { rt, a, b };
}

describe('two companies side by side', () => {
  it('every kind the examples use is present in both', async () => {
    const { a, b } = await twoCompanies();
    const kinds = (rs: Resource[]) => [...new Set(rs.map((r) => r.kind))].sort();
    expect(kinds(a)).toEqual(kinds(b));
    expect(kinds(a)).toEqual(expect.arrayContaining(['Connector', 'PresenceTemplate', 'UserImport', 'Directory', 'DialPlan', 'PbxLink', 'Group', 'Authorization', 'User']));
  });

  it('a change to one resource of either company, of every kind, is judged by its own company only', async () => {
    const { rt, a, b } = await twoCompanies();
    for (const r of [...a, ...b]) {
      const result = rt.apply(changeSet(rt.revision(), [{ action: 'update', kind: r.kind, id: r.id, body: r.body }]));
      expect({ kind: r.kind, id: r.id, result: result.ok ? 'ok' : result }).toEqual({ kind: r.kind, id: r.id, result: 'ok' });
    }
  });

  it('a change set rewriting a whole company is accepted while the other is live', async () => {
    const { rt, a, b } = await twoCompanies();
    for (const rs of [a, b]) {
      const r = rt.apply(changeSet(rt.revision(), rs.map((x) => ({ action: 'update' as const, kind: x.kind, id: x.id, body: x.body }))));
      expect(r.ok ? 'ok' : r).toBe('ok');
    }
  });

  it('deleting one company entirely leaves the other untouched and valid', async () => {
    const { rt, a, b } = await twoCompanies();
    const r = rt.apply(changeSet(rt.revision(), [...a].reverse().map((x) => ({ action: 'delete' as const, kind: x.kind, id: x.id }))));
    expect(r.ok ? 'ok' : r).toBe('ok');
    expect(rt.state().resources.map((x) => `${x.kind} ${x.id}`).sort()).toEqual(b.map((x) => `${x.kind} ${x.id}`).sort());
  });

  it('a genuine conflict across companies is still refused: a connector name used by the other company', async () => {
    const { rt, b } = await twoCompanies();
    const connector = b.find((x) => x.kind === 'Connector')!;
    const r = rt.apply(changeSet(rt.revision(), [{ action: 'create', kind: 'Connector', id: 'Beta/exchange365-Alpha', body: { ...connector.body, name: 'exchange365-Alpha' } }]));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems!.map((p) => [p.code, p.kind, p.id])).toEqual([['connector-name-conflict', 'Connector', 'Beta/exchange365-Alpha']]);
  });

  it('a broken reference inside the changed company is still refused', async () => {
    const { rt, a } = await twoCompanies();
    const connector = a.find((x) => x.kind === 'Connector')!;
    const params = connector.body.parameters as Record<string, unknown>;
    const r = rt.apply(changeSet(rt.revision(), [{ action: 'update', kind: 'Connector', id: connector.id, body: { ...connector.body, parameters: { ...params, busyTemplate: 'Nope' } } }]));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems!.map((p) => [p.code, p.id])).toEqual([['unresolved-reference', connector.id]]);
  });
});

describe('a stale change set names the live revision it met', () => {
  it('when another process commits between the checks and the write, the refusal carries the revision found at write time', async () => {
    const dir = tempDir();
    const other = await open(dir);
    opened.push(other);
    const rt = await open(dir, {
      testHooks: {
        beforeWrite: () => {
          if (other.revision() === 1) expect(other.apply(changeSet(1, creates(company('Gamma'))))).toMatchObject({ ok: true, revision: 2 });
        },
      },
    });
    opened.push(rt);
    expect(rt.apply(changeSet(0, creates(company('Alpha'))))).toMatchObject({ ok: true, revision: 1 });
    const r = rt.apply(changeSet(1, creates(company('Beta'))));
    expect(r).toMatchObject({ ok: false, code: 'stale', revision: 2 });
    if (!r.ok) expect(r.message).toBe('another change set was committed meanwhile (live revision 2, planned against 1): plan again');
  });
});
