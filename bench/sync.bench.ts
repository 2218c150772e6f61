/**
 * `npm run bench:sync`: the user import against a real slapd (unprivileged, loopback, temp
 * dir — test/sync/slapd.ts) holding BENCH_SYNC_USERS (default 10,000) AD-like accounts, each
 * figure next to its floor: a bare paged search of the same entries with the same client
 * (ldapts, page size 1,000, the same attributes).
 *
 * 1. first import (creates every user: read + plan + one change set);
 * 2. an unchanged re-sync (must write nothing: same revision, no audit entry);
 * 3. a 1% change (sn of 1% of the accounts changed in slapd) → that many updates.
 *
 * Then the same for a Directory (src/sync/directory-run.ts) of BENCH_SYNC_CONTACTS (default
 * 100,000) entries in a second slapd: first synchronization (creates every Contact), an
 * unchanged re-sync, a 1% change — next to a bare paged search of the directory's attributes.
 *
 * Target (issue #7): within 2× the floor, and an unchanged re-sync writes nothing.
 * Medians of BENCH_RUNS runs (default 3) for the floor and the re-syncs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { processSecretSource } from '../src/config/secrets.js';
import { Runtime } from '../src/runtime/runtime.js';
import type { Change } from '../src/runtime/types.js';
import { ldapSearchAll } from '../src/sync/ldap.js';
import { runDirectory } from '../src/sync/directory-run.js';
import { runUserImport } from '../src/sync/run.js';
import { attributesOf, resolveMapping } from '../src/sync/user-import.js';
import { validateConfig } from '../src/validate/validate.js';
import { ADMIN_DN, ADMIN_PASSWORD, destroySlapd, hasSlapd, PEOPLE, person, startSlapd } from '../test/sync/slapd.js';
import { ms, table } from './util.js';

const N = Number(process.env.BENCH_SYNC_USERS ?? 10_000);
const CONTACTS = Number(process.env.BENCH_SYNC_CONTACTS ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const ID = 'acme/paris/ad';

if (!hasSlapd()) {
  console.error('bench:sync needs OpenLDAP slapd (apt-get install slapd ldap-utils)');
  process.exit(1);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rate = (n: number, t: number) => `${Math.round((n / t) * 1000).toLocaleString('en-US')}/s`;

const people = Array.from({ length: N }, (_, i) => person(i));
let t = performance.now();
const slapd = await startSlapd(people);
console.log(`slapd with ${N.toLocaleString('en-US')} accounts loaded and started in ${ms(performance.now() - t)}`);
const root = mkdtempSync(path.join(tmpdir(), 'switchboard-bench-sync-'));
try {
  const conn = { host: slapd.host, port: slapd.port, login: ADMIN_DN, password: ADMIN_PASSWORD, timeoutMs: 60_000 };
  const { attributes, binary } = attributesOf(resolveMapping('activeDirectory', undefined));
  const search = { baseDn: PEOPLE, filter: '(objectClass=person)', attributes, binaryAttributes: binary, pageSize: 1000 };

  // The floor: a bare paged search of the same entries, same client, same attributes.
  const floor: number[] = [];
  for (let i = 0; i < RUNS + 1; i++) {
    t = performance.now();
    const entries = await ldapSearchAll(conn, search);
    if (entries.length !== N) throw new Error(`search returned ${entries.length}`);
    if (i > 0) floor.push(performance.now() - t); // first run warms slapd's cache
  }
  const floorMs = median(floor);

  const quick = validateConfig(path.resolve('examples/quickstart'), { secrets: processSecretSource({ CSTA_PASSWORD: 'x-bench', SWITCHBOARD_ADMIN_PASSWORD: 'y-bench' }, root) });
  if (!quick.ok) throw new Error('examples/quickstart is invalid');
  const rt = await Runtime.open(path.join(root, 'rt'), { startEngines: false });
  try {
    const body = {
      domain: 'acme/paris',
      name: 'ad',
      source: 'activeDirectory',
      connection: { host: slapd.host, port: slapd.port, login: ADMIN_DN, password: ADMIN_PASSWORD, baseDn: PEOPLE, filter: '(objectClass=person)', pageSize: 1000, timeoutSeconds: 60 },
    };
    const changes: Change[] = [...quick.state.resources.map((r) => ({ action: 'create' as const, kind: r.kind, id: r.id, body: r.body as Record<string, unknown> })), { action: 'create', kind: 'UserImport', id: ID, body }];
    const setup = rt.apply({ baseRevision: 0, changes, origin: { via: 'plan' } });
    if (!setup.ok) throw new Error(setup.message);

    t = performance.now();
    const first = await runUserImport(rt, ID);
    const firstMs = performance.now() - t;
    if (first.outcome !== 'applied' || first.counts.created !== N) throw new Error(`first import: ${first.outcome} ${first.message ?? ''}`);

    const unchanged: number[] = [];
    const revision = rt.revision();
    for (let i = 0; i < RUNS; i++) {
      t = performance.now();
      const r = await runUserImport(rt, ID);
      unchanged.push(performance.now() - t);
      if (r.outcome !== 'unchanged') throw new Error(`unchanged re-sync: ${r.outcome}`);
    }
    const writes = rt.revision() - revision;

    const changed = Math.max(1, Math.round(N / 100));
    const step = Math.floor(N / changed);
    const ldif: string[] = [];
    for (let k = 0; k < changed; k++) ldif.push(`dn: uid=${people[k * step]!.uid},${PEOPLE}`, 'changetype: modify', 'replace: sn', 'sn: Changed', '-', '');
    slapd.modify(ldif.join('\n'));
    t = performance.now();
    const one = await runUserImport(rt, ID);
    const oneMs = performance.now() - t;
    if (one.outcome !== 'applied' || one.counts.updated !== changed) throw new Error(`1% change: ${one.outcome} ${JSON.stringify(one.counts)}`);

    console.log(`\nuser import of ${N.toLocaleString('en-US')} AD-like accounts (median of ${RUNS}; floor = bare paged search, same client)\n`);
    console.log(
      table([
        ['operation', 'time', 'entries/s', 'floor', 'floor entries/s', '× floor', 'writes'],
        ['bare paged search (floor)', ms(floorMs), rate(N, floorMs), '', '', '', ''],
        [`first import (${N} created)`, ms(firstMs), rate(N, firstMs), ms(floorMs), rate(N, floorMs), `${(firstMs / floorMs).toFixed(2)}×`, '1 change set'],
        ['unchanged re-sync', ms(median(unchanged)), rate(N, median(unchanged)), ms(floorMs), rate(N, floorMs), `${(median(unchanged) / floorMs).toFixed(2)}×`, `${writes} change sets`],
        [`1% change (${changed} updated)`, ms(oneMs), rate(N, oneMs), ms(floorMs), rate(N, floorMs), `${(oneMs / floorMs).toFixed(2)}×`, '1 change set'],
      ]),
    );
    console.log(`\ntarget: within 2× the floor; an unchanged re-sync writes nothing (${writes === 0 ? 'OK' : 'FAILED'})`);
  } finally {
    await rt.close();
  }
} finally {
  await destroySlapd(slapd);
  rmSync(root, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------
// Directory: contacts

if (CONTACTS > 0) {
  const contacts = Array.from({ length: CONTACTS }, (_, i) => person(i));
  t = performance.now();
  const dirSlapd = await startSlapd(contacts);
  console.log(`\nslapd with ${CONTACTS.toLocaleString('en-US')} contacts loaded and started in ${ms(performance.now() - t)}`);
  const dirRoot = mkdtempSync(path.join(tmpdir(), 'switchboard-bench-dir-'));
  try {
    const DIR = 'acme/paris/Annuaire';
    const body = {
      domain: 'acme/paris',
      name: 'Annuaire',
      serverType: 'LDAP',
      priority: 1,
      connection: { host: dirSlapd.host, port: dirSlapd.port, user: ADMIN_DN, password: ADMIN_PASSWORD, baseDn: PEOPLE, filter: '(objectClass=person)', pageSize: 1000 },
      fields: { identifier: 'objectGUID', lastName: 'sn', firstName: 'givenName', businessPhone: 'telephoneNumber', email1: 'mail' },
    };
    const conn = { host: dirSlapd.host, port: dirSlapd.port, login: ADMIN_DN, password: ADMIN_PASSWORD, timeoutMs: 120_000 };
    const attributes = ['objectGUID', 'sn', 'givenName', 'telephoneNumber', 'mail'];
    const search = { baseDn: PEOPLE, filter: '(objectClass=person)', attributes, binaryAttributes: ['objectGUID'], pageSize: 1000 };
    const floor: number[] = [];
    for (let i = 0; i < RUNS + 1; i++) {
      t = performance.now();
      const entries = await ldapSearchAll(conn, search);
      if (entries.length !== CONTACTS) throw new Error(`search returned ${entries.length}`);
      if (i > 0) floor.push(performance.now() - t);
    }
    const floorMs = median(floor);

    const quick = validateConfig(path.resolve('examples/quickstart'), { secrets: processSecretSource({ CSTA_PASSWORD: 'x-bench', SWITCHBOARD_ADMIN_PASSWORD: 'y-bench' }, dirRoot) });
    if (!quick.ok) throw new Error('examples/quickstart is invalid');
    const rt = await Runtime.open(path.join(dirRoot, 'rt'), { startEngines: false });
    try {
      const changes: Change[] = [...quick.state.resources.map((r) => ({ action: 'create' as const, kind: r.kind, id: r.id, body: r.body as Record<string, unknown> })), { action: 'create', kind: 'Directory', id: DIR, body }];
      const setup = rt.apply({ baseRevision: 0, changes, origin: { via: 'plan' } });
      if (!setup.ok) throw new Error(setup.message);

      t = performance.now();
      const first = await runDirectory(rt, DIR);
      const firstMs = performance.now() - t;
      if (first.outcome !== 'applied' || first.counts.created !== CONTACTS) throw new Error(`first sync: ${first.outcome} ${first.message ?? ''}`);

      const unchanged: number[] = [];
      const revision = rt.revision();
      for (let i = 0; i < RUNS; i++) {
        t = performance.now();
        const r = await runDirectory(rt, DIR);
        unchanged.push(performance.now() - t);
        if (r.outcome !== 'unchanged') throw new Error(`unchanged re-sync: ${r.outcome}`);
      }
      const writes = rt.revision() - revision;

      const changed = Math.max(1, Math.round(CONTACTS / 100));
      const step = Math.floor(CONTACTS / changed);
      const ldif: string[] = [];
      for (let k = 0; k < changed; k++) ldif.push(`dn: uid=${contacts[k * step]!.uid},${PEOPLE}`, 'changetype: modify', 'replace: sn', 'sn: Changed', '-', '');
      dirSlapd.modify(ldif.join('\n'));
      t = performance.now();
      const one = await runDirectory(rt, DIR);
      const oneMs = performance.now() - t;
      if (one.outcome !== 'applied' || one.counts.updated !== changed) throw new Error(`1% change: ${one.outcome} ${JSON.stringify(one.counts)}`);

      console.log(`\ndirectory sync of ${CONTACTS.toLocaleString('en-US')} LDAP contacts (median of ${RUNS}; floor = bare paged search, same client)\n`);
      console.log(
        table([
          ['operation', 'time', 'entries/s', 'floor', 'floor entries/s', '× floor', 'writes'],
          ['bare paged search (floor)', ms(floorMs), rate(CONTACTS, floorMs), '', '', '', ''],
          [`first sync (${CONTACTS} created)`, ms(firstMs), rate(CONTACTS, firstMs), ms(floorMs), rate(CONTACTS, floorMs), `${(firstMs / floorMs).toFixed(2)}×`, '1 change set'],
          ['unchanged re-sync', ms(median(unchanged)), rate(CONTACTS, median(unchanged)), ms(floorMs), rate(CONTACTS, floorMs), `${(median(unchanged) / floorMs).toFixed(2)}×`, `${writes} change sets`],
          [`1% change (${changed} updated)`, ms(oneMs), rate(CONTACTS, oneMs), ms(floorMs), rate(CONTACTS, floorMs), `${(oneMs / floorMs).toFixed(2)}×`, '1 change set'],
        ]),
      );
      console.log(`\ntarget: within 2× the floor; an unchanged re-sync writes nothing (${writes === 0 ? 'OK' : 'FAILED'})`);
    } finally {
      await rt.close();
    }
  } finally {
    await destroySlapd(dirSlapd);
    rmSync(dirRoot, { recursive: true, force: true });
  }
}
