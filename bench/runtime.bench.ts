/**
 * `npm run bench:runtime`: the runtime on the generated 10,000-user configuration (60,000
 * resources: 500 groups, 50,000 authorizations, …), each operation next to its floor — bare
 * better-sqlite3 on the same rows (kind, id, JSON body), same pragmas (WAL, synchronous FULL),
 * one transaction:
 *
 * 1. apply a change set creating everything (fresh data dir)  vs  bare INSERT of the rows;
 * 2. read the full state back: warm (an open runtime) and cold (open + read, what an embedded
 *    CLI does)  vs  bare SELECT of all rows + JSON.parse;
 * 3. update 1% of the users (firstName of 100 users)  vs  bare UPDATE of those rows.
 *
 * Target from issue #3: within 3× the floor. Medians of BENCH_RUNS runs (default 5),
 * interleaved so machine drift affects both sides alike.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { processSecretSource } from '../src/config/secrets.js';
import { Runtime, type RuntimeLog } from '../src/runtime/runtime.js';
import type { Change, ChangeSet } from '../src/runtime/types.js';
import { validateConfig } from '../src/validate/validate.js';
import { generateConfig } from './generate.js';
import { ms, table } from './util.js';

const users = Number(process.env.BENCH_USERS ?? 10_000);
const runs = Number(process.env.BENCH_RUNS ?? 5);
const root = mkdtempSync(path.join(tmpdir(), 'switchboard-bench-runtime-'));
let dirs = 0;
const freshDir = () => path.join(root, `d${dirs++}`);

/** Phase timings the runtime logs with each commit (prepare, check, write, cache). */
const phases: Record<string, Record<string, number[]>> = { create: {}, update: {} };
let phaseOf: 'create' | 'update' | undefined;
const log: RuntimeLog = {
  debug() {},
  warn() {},
  error() {},
  info(fields) {
    const m = fields.ms as Record<string, number> | undefined;
    if (!m || !phaseOf) return;
    for (const [k, v] of Object.entries(m)) (phases[phaseOf]![k] ??= []).push(v);
  },
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const time = (f: () => void) => {
  const t = performance.now();
  f();
  return performance.now() - t;
};
const timeAsync = async (f: () => Promise<void>) => {
  const t = performance.now();
  await f();
  return performance.now() - t;
};

try {
  const gen = generateConfig(path.join(root, 'config'), users);
  const env = { BENCH_CSTA_PASSWORD: process.env.BENCH_CSTA_PASSWORD ?? 'bench-secret' };
  const validated = validateConfig(gen.dir, { secrets: processSecretSource(env, gen.dir) });
  if (!validated.ok) throw new Error('the generated configuration does not validate');
  const resources = validated.state.resources;
  const createAll: ChangeSet = { baseRevision: 0, origin: { via: 'plan' }, changes: resources.map((r) => ({ action: 'create', kind: r.kind, id: r.id, body: r.body })) };
  const updated = resources.filter((r) => r.kind === 'User').slice(0, Math.ceil(users / 100));
  const updates = (n: number): Change[] => updated.map((r) => ({ action: 'update', kind: r.kind, id: r.id, body: { ...r.body, firstName: `Renamed${n}` } }));

  // ---- floor: bare better-sqlite3
  const bareOpen = (file: string) => {
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE IF NOT EXISTS resources (kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, id))');
    return db;
  };
  const bareInsert = (db: Database.Database) => {
    const ins = db.prepare('INSERT INTO resources (kind, id, body) VALUES (?, ?, ?)');
    db.transaction(() => {
      for (const r of resources) ins.run(r.kind, r.id, JSON.stringify(r.body));
    })();
  };
  const bareRead = (db: Database.Database) => {
    const rows = db.prepare<[], [string, string, string]>('SELECT kind, id, body FROM resources').raw().all();
    const out = rows.map(([kind, id, body]) => ({ kind, id, body: JSON.parse(body) as unknown }));
    if (out.length !== resources.length) throw new Error('bare read count');
  };
  const bareUpdate = (db: Database.Database, n: number) => {
    const upd = db.prepare('UPDATE resources SET body = ? WHERE kind = ? AND id = ?');
    db.transaction(() => {
      for (const c of updates(n)) if (c.action === 'update') upd.run(JSON.stringify(c.body), c.kind, c.id);
    })();
  };

  const t = { insert: [] as number[], bareInsert: [] as number[], read: [] as number[], coldRead: [] as number[], bareRead: [] as number[], update: [] as number[], bareUpdate: [] as number[] };
  // One warm-up round, then `runs` measured rounds.
  for (let i = 0; i <= runs; i++) {
    const keep = i > 0;
    // 1. create everything
    const bareDb = bareOpen(`${freshDir()}.db`);
    const bi = time(() => bareInsert(bareDb));
    const dir = freshDir();
    const rt = await Runtime.open(dir, { startEngines: false, log });
    phaseOf = keep ? 'create' : undefined;
    let result: ReturnType<Runtime['apply']> | undefined;
    const ai = time(() => void (result = rt.apply(createAll)));
    if (!result?.ok) throw new Error(`apply refused: ${JSON.stringify(result).slice(0, 2000)}`);
    // 2. read back
    const br = time(() => bareRead(bareDb));
    const ar = time(() => {
      if (rt.state().resources.length !== resources.length) throw new Error('state count');
    });
    await rt.close();
    let cold: Runtime | undefined;
    const cr = await timeAsync(async () => {
      cold = await Runtime.open(dir, { startEngines: false, log });
      if (cold.state().resources.length !== resources.length) throw new Error('cold state count');
    });
    // 3. update 1% of users
    const bu = time(() => bareUpdate(bareDb, i));
    phaseOf = keep ? 'update' : undefined;
    let r2: ReturnType<Runtime['apply']> | undefined;
    const au = time(() => void (r2 = cold!.apply({ baseRevision: 1, origin: { via: 'plan' }, changes: updates(i) })));
    if (!r2?.ok) throw new Error(`update refused: ${JSON.stringify(r2).slice(0, 2000)}`);
    await cold!.close();
    bareDb.close();
    if (keep) {
      t.insert.push(ai), t.bareInsert.push(bi), t.read.push(ar), t.coldRead.push(cr), t.bareRead.push(br), t.update.push(au), t.bareUpdate.push(bu);
    }
    rmSync(dir, { recursive: true, force: true });
  }

  const row = (name: string, value: number[], floor: number[], target = 3) => {
    const ratio = median(value) / median(floor);
    return [name, ms(median(value)), ms(median(floor)), `${ratio.toFixed(2)}×`, ratio <= target ? 'OK' : 'OVER TARGET'];
  };
  process.stdout.write(
    `runtime: ${users} users, ${resources.length} resources (median of ${runs} runs, in process)\n` +
      `${table([
        ['', 'runtime', 'floor', 'ratio', 'target ≤ 3×'],
        row('apply: create everything', t.insert, t.bareInsert),
        row('state: read all (open runtime)', t.read, t.bareRead),
        row('state: open + read all (cold)', t.coldRead, t.bareRead),
        row(`apply: update ${updated.length} users (1%)`, t.update, t.bareUpdate),
      ])}\n` +
      `floor: bare better-sqlite3, one transaction, same rows (kind, id, JSON body), WAL + synchronous FULL\n` +
      `where apply's time goes (medians): ${(['create', 'update'] as const)
        .map((k) => `${k}: ${Object.entries(phases[k]!).map(([p, v]) => `${p} ${ms(median(v))}`).join(', ')}`)
        .join('; ')}\n` +
      `  prepare: ids, ownership, secrets, JSON; check: schema of written resources + every rule over the touched companies; write: the SQLite transaction (rows + audit)\n`,
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
