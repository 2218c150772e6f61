/**
 * Directory synchronization runs against a real runtime (SQLite in a temp dir): a real CSV file
 * on disk with every field option, a real slapd; safety (zero entries → nothing deleted, the 30%
 * threshold, a missing file, dry run); an unchanged re-run writes nothing; merge by e-mail;
 * lookup through the dial plan finding a contact; the CLI; `kind: Contact` refused in YAML.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { validateFiles } from '../helpers.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { DirectorySyncEngine } from '../../src/runtime/engines/user-import.js';
import type { LiveResource } from '../../src/runtime/types.js';
import { exportState } from '../../src/export/export.js';
import { runDirectory } from '../../src/sync/directory-run.js';
import { lookupCaller } from '../../src/sync/lookup.js';
import { liveDialPlan, runHistory } from '../../src/sync/run.js';
import { changeSet, creates, open, quickstart, tempDir } from '../runtime/helpers.js';
import { ADMIN_DN, ADMIN_PASSWORD, destroySlapd, hasSlapd, PEOPLE, person, startSlapd, type Slapd } from './slapd.js';

const BIN = path.resolve('bin/switchboard.js');
const cli = (args: string[], cwd?: string) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH }, ...(cwd ? { cwd } : {}) });

const HEADER = 'Id;Nom;Prenom;Societe;Tel;Portable;Perso;Mail;Adresse;Vip;ListeRouge';
const ROWS = [
  'S1;Müller;éLODIE;ACME Fournitures;4321;+33 6 11 22 33 44;01 45 00 00 01;Elodie.Muller@Example.com;"12 rue de la Paix; Paris";;oui', // 'oui' is not a red-list value
  'S2;Durand;jean;"Durand ""et fils""";+33 1 40 00 00 02;06 99 88 77 66;;jean@durand.fr;;gold;lr',
  'S3;Petit;anne;Petit SA;+33 1 40 00 00 03;;;anne@petit.fr;;;',
  'S4;Grand;paul;Grand SA;+33 1 40 00 00 04;;;paul@grand.fr;;;',
];

function suppliers(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    domain: 'acme/paris',
    name: 'Suppliers',
    serverType: 'CSV',
    priority: 2,
    connection: { path: 'suppliers.csv', delimiter: ';', encoding: 'latin1' },
    fields: {
      identifier: 'Id|h',
      lastName: 'Nom|u',
      firstName: 'Prenom|m',
      company: 'Societe|l',
      businessPhone: 'Tel|p:9{0}::^[0-9]{4}$',
      mobilePhone: 'Portable|i',
      homePhone: 'Perso',
      email1: 'Mail|l',
      private0: 'Adresse|a',
      private1: 'Vip',
    },
    redList: { mobilePhone: 'ListeRouge', homePhone: 'ListeRouge' },
    privateLabels: { private1: '[VIP]' },
    ...over,
  };
}

const writeCsv = (dir: string, rows: readonly string[], file = 'suppliers.csv', header = HEADER) =>
  writeFileSync(path.join(dir, file), Buffer.from([header, ...rows].join('\r\n') + '\r\n', 'latin1'));

const opened: Runtime[] = [];
afterEach(async () => {
  for (const rt of opened.splice(0)) await rt.close();
});

async function runtimeWith(directories: Record<string, unknown>[]): Promise<Runtime> {
  const rt = await open(tempDir(), { startEngines: false });
  opened.push(rt);
  expect(rt.apply(changeSet(0, creates(quickstart())))).toMatchObject({ ok: true });
  const r = rt.apply(changeSet(rt.revision(), directories.map((body) => ({ action: 'create' as const, kind: 'Directory' as const, id: `${String(body.domain)}/${String(body.name)}`, body }))));
  expect(r).toMatchObject({ ok: true });
  return rt;
}
const contacts = (rt: Runtime, name?: string): LiveResource[] => rt.state().resources.filter((r) => r.kind === 'Contact' && (name === undefined || r.body.directory === name));

describe('directory run: a CSV file with every field option', () => {
  it('creates contacts owned by directory:<name>; an unchanged re-run writes nothing; a change updates; a removal deletes', async () => {
    const dir = tempDir();
    writeCsv(dir, ROWS);
    const rt = await runtimeWith([suppliers()]);
    const first = await runDirectory(rt, 'acme/paris/Suppliers', { filesDir: dir });
    expect(first).toMatchObject({ kind: 'Directory', outcome: 'applied', sourceEntries: 4, counts: { created: 4, updated: 0, deleted: 0 } });
    const all = contacts(rt);
    expect(all).toHaveLength(4);
    const elodie = all.find((c) => (c.body.fields as Record<string, string>).email1 === 'elodie.muller@example.com')!;
    expect(elodie).toMatchObject({ manager: 'directory:Suppliers', updatedVia: 'sync', updatedBy: 'directory:Suppliers' });
    expect(elodie.id).toMatch(/^acme\/paris\/Suppliers\/[0-9a-f]{32}$/);
    expect(elodie.body).toEqual({
      domain: 'acme/paris',
      directory: 'Suppliers',
      identifier: elodie.id.split('/')[3],
      priority: 2,
      fields: {
        lastName: 'MÜLLER',
        firstName: 'Élodie',
        company: 'acme fournitures',
        businessPhone: '94321',
        mobilePhone: '+33 6 11 22 33 44',
        homePhone: '01 45 00 00 01',
        email1: 'elodie.muller@example.com',
        private0: '12 rue de la Paix; Paris',
      },
      invisible: ['mobilePhone'],
      address: ['private0'],
    });
    const jean = all.find((c) => (c.body.fields as Record<string, string>).email1 === 'jean@durand.fr')!;
    expect(jean.body).toMatchObject({ hidden: ['mobilePhone'], vip: true, fields: { company: 'durand "et fils"' } });

    const revision = rt.revision();
    const again = await runDirectory(rt, 'acme/paris/Suppliers', { filesDir: dir });
    expect(again).toMatchObject({ outcome: 'unchanged', counts: { created: 0, updated: 0, deleted: 0, unchanged: 4 } });
    expect(rt.revision()).toBe(revision);
    expect(rt.audit({ sinceRevision: revision })).toHaveLength(0);

    writeCsv(dir, [ROWS[0]!.replace('Müller', 'Meyer'), ...ROWS.slice(1, 4)]);
    expect(await runDirectory(rt, 'acme/paris/Suppliers', { filesDir: dir })).toMatchObject({ outcome: 'applied', counts: { updated: 1, created: 0, deleted: 0, unchanged: 3 } });
    expect((rt.get('Contact', elodie.id)!.body.fields as Record<string, string>).lastName).toBe('MEYER');
    // The stable identifier kept the contact across the change.
    writeCsv(dir, [ROWS[0]!.replace('Müller', 'Meyer'), ...ROWS.slice(1, 3), 'S5;Neuf;luc;;+33 1 40 00 00 05;;;luc@neuf.fr;;;']);
    expect(await runDirectory(rt, 'acme/paris/Suppliers', { filesDir: dir })).toMatchObject({ outcome: 'applied', counts: { created: 1, deleted: 1 } });
    expect(contacts(rt)).toHaveLength(4);
    expect(runHistory(rt.dataDir, 'Directory', 'acme/paris/Suppliers').map((r) => r.outcome)).toEqual(['applied', 'applied', 'unchanged', 'applied']);
    // export never writes contacts (YAML may not declare them), even with includeSynced.
    const exported = exportState(rt.state().resources, { includeSynced: true });
    expect([...exported.files.keys()].some((f) => f.endsWith('/Contact.yaml'))).toBe(false);
    expect([...exported.files.keys()]).toContain('acme/paris/Directory.yaml');
  });

  it('safety: zero entries, over 30% removed, a missing file or a bad expression change nothing; --dry-run writes nothing', async () => {
    const dir = tempDir();
    writeCsv(dir, ROWS);
    const rt = await runtimeWith([suppliers()]);
    const dry = await runDirectory(rt, 'acme/paris/Suppliers', { filesDir: dir, dryRun: true });
    expect(dry).toMatchObject({ outcome: 'dry-run', counts: { created: 4 } });
    expect(dry.changes).toHaveLength(4);
    expect(contacts(rt)).toHaveLength(0);
    await runDirectory(rt, 'acme/paris/Suppliers', { filesDir: dir });
    const revision = rt.revision();

    writeCsv(dir, []); // a header and no rows: the filter-typo / outage case
    const empty = await runDirectory(rt, 'acme/paris/Suppliers', { filesDir: dir });
    expect(empty).toMatchObject({ outcome: 'refused', sourceEntries: 0, managed: 4 });
    expect(empty.message).toMatch(/no entries/);
    writeCsv(dir, ROWS.slice(0, 2)); // 2 of 4 removed: 50%
    const half = await runDirectory(rt, 'acme/paris/Suppliers', { filesDir: dir });
    expect(half).toMatchObject({ outcome: 'refused', counts: { deleted: 2 } });
    expect(half.message).toMatch(/delete 2 of the 4 contacts .*50\.0%/);
    writeFileSync(path.join(dir, 'suppliers.csv'), ''); // removed/emptied file
    expect(await runDirectory(rt, 'acme/paris/Suppliers', { filesDir: tempDir() })).toMatchObject({ outcome: 'failed' });
    expect(rt.revision()).toBe(revision);
    expect(contacts(rt)).toHaveLength(4);
    // Accepted once with a higher threshold.
    writeCsv(dir, ROWS.slice(0, 2));
    expect(await runDirectory(rt, 'acme/paris/Suppliers', { filesDir: dir, maxRemovePercent: 50 })).toMatchObject({ outcome: 'applied', counts: { deleted: 2 } });
    expect(contacts(rt)).toHaveLength(2);
  });

  it('merges contacts sharing an e-mail across merge-flagged directories: the lowest priority owns the merged contact', async () => {
    const dir = tempDir();
    writeCsv(dir, ROWS.slice(0, 2));
    writeCsv(dir, ['c1,Muller-Corp,ELODIE.MULLER@example.com,01 45 00 00 02', 'c2,Solo,solo@corp.fr,01 45 00 00 09'], 'corp.csv', 'uid,sn,mail,home');
    const corp = { domain: 'acme/paris', name: 'Corp', serverType: 'CSV', priority: 1, mergeContacts: true, connection: { path: 'corp.csv' }, fields: { identifier: 'uid', lastName: 'sn', email1: 'mail', homePhone: 'home' } };
    const rt = await runtimeWith([suppliers({ mergeContacts: true }), corp]);
    expect(await runDirectory(rt, 'acme/paris/Suppliers', { filesDir: dir })).toMatchObject({ outcome: 'applied', counts: { created: 1 } });
    expect(await runDirectory(rt, 'acme/paris/Corp', { filesDir: dir })).toMatchObject({ outcome: 'applied', counts: { created: 2 } });
    expect(contacts(rt, 'Suppliers').map((c) => (c.body.fields as Record<string, string>).email1)).toEqual(['jean@durand.fr']);
    const merged = rt.get('Contact', 'acme/paris/Corp/c1')!;
    expect(merged.manager).toBe('directory:Corp');
    expect(merged.body).toMatchObject({ sources: ['Corp', 'Suppliers'], priority: 1, fields: { lastName: 'Muller-Corp', firstName: 'Élodie', homePhone: '01 45 00 00 02', businessPhone: '94321' }, invisible: ['mobilePhone'] });
    // Re-runs of both write nothing.
    const revision = rt.revision();
    expect(await runDirectory(rt, 'acme/paris/Suppliers', { filesDir: dir })).toMatchObject({ outcome: 'unchanged' });
    expect(await runDirectory(rt, 'acme/paris/Corp', { filesDir: dir })).toMatchObject({ outcome: 'unchanged' });
    expect(rt.revision()).toBe(revision);
  });

  it('lookup through the dial plan finds a contact, directory priority first, honouring the red list', async () => {
    const dir = tempDir();
    writeCsv(dir, ROWS);
    writeCsv(dir, ['x1,Other,+33 1 40 00 00 02'], 'other.csv', 'id,sn,tel');
    const other = { domain: 'acme/paris', name: 'Other', serverType: 'CSV', priority: 1, connection: { path: 'other.csv' }, fields: { identifier: 'id', lastName: 'sn', businessPhone: 'tel' } };
    const rt = await runtimeWith([suppliers(), other]);
    await runDirectory(rt, 'acme/paris/Suppliers', { filesDir: dir });
    await runDirectory(rt, 'acme/paris/Other', { filesDir: dir });
    const state = rt.state({ company: 'acme' });
    const compiled = liveDialPlan(state.resources, 'acme/paris')!;
    const both = lookupCaller(compiled, state.resources, 'acme/paris', '01 40 00 00 02');
    expect(both.matches.map((m) => [m.kind, m.id, m.source, m.number])).toEqual([
      ['Contact', 'acme/paris/Other/x1', 'directory Other', '+33 1 40 00 00 02'],
      ['Contact', expect.stringMatching(/^acme\/paris\/Suppliers\//), 'directory Suppliers', '+33 1 40 00 00 02'],
    ]);
    expect(both.matches[1]).toMatchObject({ name: 'Jean DURAND', vip: true });
    const red = lookupCaller(compiled, state.resources, 'acme/paris', '+33 6 99 88 77 66');
    expect(red.matches).toHaveLength(1);
    expect(red.matches[0]).toMatchObject({ kind: 'Contact', field: 'mobilePhone', redListed: true });
    expect(red.matches[0]!.number).toBeUndefined();
    // Users still come first.
    expect(lookupCaller(compiled, state.resources, 'acme/paris', '+33 1 23 45 10 01').matches.every((m) => m.kind === 'User')).toBe(true);
  });

  it('the CLI: sync run NAME runs a directory; the same name as an import is ambiguous unless prefixed; lookup prints a contact', async () => {
    const dir = tempDir();
    const data = path.join(dir, 'data');
    // the default folder CSV directories are read from: DATA_DIR/files
    mkdirSync(path.join(data, 'files'), { recursive: true });
    writeCsv(path.join(data, 'files'), ROWS);
    const rt = await open(data, { startEngines: false });
    expect(rt.apply(changeSet(0, [...creates(quickstart()), { action: 'create', kind: 'Directory', id: 'acme/paris/Suppliers', body: suppliers() }]))).toMatchObject({ ok: true });
    const imp = { domain: 'acme/paris', name: 'Suppliers', source: 'ldap', connection: { host: '127.0.0.1', baseDn: 'dc=x' } };
    expect(rt.apply(changeSet(1, [{ action: 'create', kind: 'UserImport', id: 'acme/paris/Suppliers', body: imp }]))).toMatchObject({ ok: true });
    await rt.close();

    const ambiguous = cli(['sync', 'run', 'Suppliers', '--data-dir', data], dir);
    expect(ambiguous.status).toBe(1);
    expect(ambiguous.stderr).toMatch(/names 2 user imports and directories \(Directory\/acme\/paris\/Suppliers, UserImport\/acme\/paris\/Suppliers\): give UserImport\/NAME or Directory\/NAME/);
    const dry = cli(['sync', 'run', 'Directory/Suppliers', '--dry-run', '--data-dir', data], dir);
    expect(dry.stderr).toBe('');
    expect(dry.stdout).toContain('directory acme/paris/Suppliers: dry run, nothing written');
    expect(dry.stdout).toMatch(/\+ Contact acme\/paris\/Suppliers\/[0-9a-f]{32}/);
    const applied = cli(['sync', 'run', 'Directory/acme/paris/Suppliers', '--data-dir', data], dir);
    expect(applied.status).toBe(0);
    expect(applied.stdout).toMatch(/applied at revision 3\n[\s\S]*4 created/);
    const again = cli(['sync', 'run', 'Directory/Suppliers', '--data-dir', data, '--format', 'json'], dir);
    expect(JSON.parse(again.stdout)).toMatchObject({ outcome: 'unchanged', counts: { unchanged: 4 } });
    const lookup = cli(['lookup', '01 40 00 00 03', '--domain', 'acme/paris', '--data-dir', data]);
    expect(lookup.status).toBe(0);
    expect(lookup.stdout).toMatch(/Anne PETIT — Contact acme\/paris\/Suppliers\/[0-9a-f]{32}, businessPhone \+33 1 40 00 00 03 \(directory Suppliers; lookup key 140000003\)/);
    const red = cli(['lookup', '06 99 88 77 66', '--domain', 'acme/paris', '--data-dir', data]);
    expect(red.stdout).toContain('(number hidden: red list)');
    expect(red.stdout).not.toContain('06 99 88 77 66 (');
    const status = cli(['status', '--data-dir', data]);
    expect(status.stdout).toMatch(/directories:\n  acme\/paris\/Suppliers \(manual\): last run unchanged/);
  });

  it('YAML may not declare a Contact', () => {
    const r = validateFiles({ 'c.yaml': 'apiVersion: switchboard/v1\nkind: Contact\ndomain: acme/paris\ndirectory: X\nidentifier: a\nfields: {}\n' });
    expect(r.diagnostics.map((d) => d.code)).toEqual(['runtime-only-kind']);
    expect(r.diagnostics[0]!.message).toBe('Contact resources are created by directory synchronization, not declared: configure a Directory instead');
  });
});

describe.skipIf(!hasSlapd())('directory run against slapd', () => {
  let slapd: Slapd;
  const base = Array.from({ length: 1200 }, (_, i) => person(i, i === 3 ? { extra: { title: 'rf' } } : {}));
  beforeAll(async () => {
    slapd = await startSlapd(base);
  });
  afterAll(async () => destroySlapd(slapd));

  const ldapDirectory = (filter = 'objectClass=inetOrgPerson') => ({
    domain: 'acme/paris',
    name: 'Annuaire LDAP',
    serverType: 'LDAP',
    priority: 1,
    connection: { host: slapd.host, port: slapd.port, user: ADMIN_DN, password: ADMIN_PASSWORD, baseDn: PEOPLE, filter, pageSize: 500 },
    fields: { identifier: 'objectGUID', lastName: 'sn|u', firstName: 'givenName', businessPhone: 'telephoneNumber', email1: 'mail' },
    redList: { businessPhone: 'title' },
  });

  it('synchronizes 1,200 entries over pages; a re-run writes nothing; a filter typo (zero entries) deletes nothing; an outage changes nothing; the engine runs it', async () => {
    const rt = await runtimeWith([ldapDirectory()]);
    const id = 'acme/paris/Annuaire LDAP';
    const first = await runDirectory(rt, id);
    expect(first).toMatchObject({ outcome: 'applied', sourceEntries: 1200, counts: { created: 1200 } });
    expect(contacts(rt)).toHaveLength(1200);
    const c3 = contacts(rt).find((c) => (c.body.fields as Record<string, string>).lastName === 'LAST00003')!;
    expect(c3).toMatchObject({ manager: 'directory:Annuaire LDAP', body: { hidden: ['businessPhone'] } });
    expect(c3.id).toMatch(/^acme\/paris\/Annuaire LDAP\/[0-9a-f]{8}-[0-9a-f]{4}-/);
    const revision = rt.revision();
    expect(await runDirectory(rt, id)).toMatchObject({ outcome: 'unchanged', counts: { unchanged: 1200 } });
    expect(rt.revision()).toBe(revision);

    // A filter typo: zero entries, nothing deleted.
    const cur = rt.get('Directory', id)!;
    const typo = { ...ldapDirectory('objectClass=inetOrgPersn'), connection: { ...(ldapDirectory('objectClass=inetOrgPersn').connection as object), password: (cur.body.connection as Record<string, unknown>).password } };
    expect(rt.apply(changeSet(rt.revision(), [{ action: 'update', kind: 'Directory', id, body: typo }]))).toMatchObject({ ok: true });
    const zero = await runDirectory(rt, id);
    expect(zero).toMatchObject({ outcome: 'refused', sourceEntries: 0, managed: 1200 });
    expect(contacts(rt)).toHaveLength(1200);

    // A change in slapd: one update.
    expect(rt.apply(changeSet(rt.revision(), [{ action: 'update', kind: 'Directory', id, body: { ...typo, connection: { ...(typo.connection as object), filter: 'objectClass=inetOrgPerson' } } }]))).toMatchObject({ ok: true });
    slapd.modify(`dn: uid=${base[7]!.uid},${PEOPLE}\nchangetype: modify\nreplace: sn\nsn: Changed\n-\n`);
    const engine = new DirectorySyncEngine(() => rt);
    const log = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };
    await engine.start({ now: () => new Date(), log } as never, rt.state().resources.filter((r) => r.kind === 'Directory'));
    const viaEngine = await engine.runNow(id);
    expect(viaEngine).toMatchObject({ outcome: 'applied', counts: { updated: 1, unchanged: 1199 } });
    expect(engine.status()).toMatchObject({ state: 'running', details: { directories: [{ id, lastRun: { outcome: 'applied', updated: 1 } }] } });
    await engine.stop();

    // The server goes away: failed, nothing changed.
    const before = rt.revision();
    const gone = { ...typo, connection: { ...(typo.connection as object), filter: 'objectClass=inetOrgPerson', port: 1 } };
    expect(rt.apply(changeSet(rt.revision(), [{ action: 'update', kind: 'Directory', id, body: gone }]))).toMatchObject({ ok: true });
    const down = await runDirectory(rt, id);
    expect(down.outcome).toBe('failed');
    expect(down.message).toMatch(/nothing was changed/);
    expect(rt.revision()).toBe(before + 1);
    expect(contacts(rt)).toHaveLength(1200);
  });
});
