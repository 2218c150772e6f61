/**
 * `npm run bench:watch`: how long a one-line edit takes to reach the runtime through
 * `switchboard watch`, on the generated 1,000 / 10,000 / 50,000-user configurations
 * (BENCH_WATCH_USERS=1000,10000 to choose), next to a cold `switchboard plan` (whole process)
 * on the same tree.
 *
 * The watch runs in-process on the embedded runtime with its real defaults (chokidar with
 * write-finish detection 200 ms, debounce 300 ms). Each edit renames one user in one file;
 * the time runs from just before the write to the cycle's `applied` event. It splits into
 * waiting (the file event, write-finish detection and debounce: fixed, by design) and the
 * cycle's work: load (stat every file, read and parse only the changed one: the parse cache),
 * validate (schemas of the changed file's resources; the rules over the whole desired state —
 * not incremental), plan (live state, canonical forms, diff of everything — not incremental)
 * and apply (one change set).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { generateConfig } from './generate.js';
import { ms, table, timeProcesses } from './util.js';
import { startWatch } from '../src/cli/watch.js';
import type { CycleEvent, WatchEvent, WatchHost } from '../src/watch/events.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = path.join(root, 'bin/switchboard.js');
const sizes = (process.env.BENCH_WATCH_USERS ?? '1000,10000,50000').split(',').map(Number);
const edits = Number(process.env.BENCH_EDITS ?? 5);
const planRuns = Number(process.env.BENCH_RUNS ?? 3);
if (!process.env.BENCH_CSTA_PASSWORD) process.env.BENCH_CSTA_PASSWORD = 'bench-secret';
const env = { BENCH_CSTA_PASSWORD: process.env.BENCH_CSTA_PASSWORD, NO_COLOR: '1' };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Collects cycle events; `next` resolves with the next one. */
class Cycles implements WatchHost {
  #waiter: ((c: CycleEvent) => void) | undefined;
  emit(e: WatchEvent): void {
    if (e.type === 'cycle' && this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w(e);
    }
  }
  next(): Promise<CycleEvent> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no cycle within 120 s')), 120_000);
      this.#waiter = (c) => {
        clearTimeout(t);
        resolve(c);
      };
    });
  }
}

interface Row {
  users: number;
  files: number;
  mb: number;
  coldPlan: number;
  startCycle: CycleEvent;
  latency: number;
  cycles: CycleEvent[];
}

async function measure(users: number): Promise<Row> {
  const work = mkdtempSync(path.join(tmpdir(), 'switchboard-bench-watch-'));
  try {
    const gen = generateConfig(path.join(work, 'config'), users);
    const apply = spawnSync(process.execPath, [bin, 'apply', 'config', '--auto-approve'], { cwd: work, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 28 });
    if (apply.status !== 0) throw new Error(`apply exited ${apply.status}: ${apply.stderr.slice(0, 2000)}`);
    const file = path.join(work, 'config/company00/site0/users.yaml');
    const original = readFileSync(file, 'utf8');
    // The cold plan on the same tree with one line changed (as the watch will see it).
    writeFileSync(file, original.replace('firstName: First1\n', 'firstName: Cold1\n'));
    const [coldPlan] = timeProcesses([{ cmd: process.execPath, args: [bin, 'plan', 'config', '--detailed-exitcode'], env, cwd: work, expectStatus: 2 }], planRuns);
    writeFileSync(file, original);

    const host = new Cycles();
    const first = host.next();
    const sink = new Writable({ write: (_c, _e, done) => done() }) as unknown as NodeJS.WriteStream;
    const session = await startWatch('config', { resync: '0' }, { stdout: sink, env: { ...process.env, ...env }, cwd: work }, { host });
    try {
      const startCycle = await first;
      if (startCycle.outcome !== 'no-changes') throw new Error(`first cycle: ${startCycle.outcome}`);
      const cycles: CycleEvent[] = [];
      const latencies: number[] = [];
      let text = original;
      for (let i = 0; i < edits; i++) {
        const k = 10 + i;
        text = text.replace(`firstName: First${k}\n`, `firstName: Edited${k}\n`);
        const next = host.next();
        const t0 = performance.now();
        writeFileSync(file, text);
        const c = await next;
        latencies.push(performance.now() - t0);
        if (c.outcome !== 'applied' || c.applied !== 1 || c.parsed !== 1) throw new Error(`edit ${i}: ${c.outcome}, ${c.applied} applied, ${c.parsed} parsed`);
        cycles.push(c);
      }
      return { users: gen.users, files: gen.files, mb: gen.bytes / 1e6, coldPlan: coldPlan!.medianMs, startCycle, latency: median(latencies), cycles };
    } finally {
      await session.stop();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const rows: Row[] = [];
for (const users of sizes) {
  process.stderr.write(`bench:watch: ${users} users …\n`);
  rows.push(await measure(users));
}
const phase = (r: Row, p: keyof CycleEvent['timings']) => ms(median(r.cycles.map((c) => c.timings[p] ?? 0)));
const work = (r: Row) => median(r.cycles.map((c) => c.durationMs));
process.stdout.write(
  `watch: one-line edit → applied (median of ${edits} edits), in-process watch on the embedded runtime, defaults: write-finish 200 ms + debounce 300 ms\n` +
    `${table([
      ['users', 'files', 'MB', 'cold plan (process)', 'edit → applied', 'waiting', 'cycle work', 'load', 'validate', 'plan', 'apply', 'first cycle'],
      ...rows.map((r) => [
        r.users.toLocaleString('en'),
        String(r.files),
        r.mb.toFixed(1),
        ms(r.coldPlan),
        ms(r.latency),
        ms(r.latency - work(r)),
        ms(work(r)),
        phase(r, 'load'),
        phase(r, 'validate'),
        phase(r, 'plan'),
        phase(r, 'apply'),
        ms(r.startCycle.durationMs),
      ]),
    ])}\n` +
    `load parses 1 file per edit (the parse cache holds the rest); validate checks that file's resources against their schemas,\n` +
    `but its rules and the plan still run over the whole state (not incremental).\n` +
    `first cycle = the watch's start: every file read and parsed, validators compiled in-process (tsx runs from src/).\n`,
);
if (rows.length > 1) {
  const a = rows[0]!;
  const b = rows[rows.length - 1]!;
  process.stdout.write(
    `${b.users / a.users}× the users: edit → applied ${(b.latency / a.latency).toFixed(2)}× (cycle work ${(work(b) / Math.max(1, work(a))).toFixed(1)}×), cold plan ${(b.coldPlan / a.coldPlan).toFixed(1)}×\n`,
  );
}
