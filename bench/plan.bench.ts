/**
 * `npm run bench:plan`: the reconciler on the generated 10,000-user configuration, each step
 * a whole `switchboard` process against the embedded runtime, next to the time js-yaml takes
 * to parse the same files (issue #4 targets: no-op plan ≤ 2.5× the bare parse; well under a
 * second is the goal — Terraform takes minutes at this size).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { generateConfig } from './generate.js';
import { ms, table, timeProcesses, type Timing } from './util.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = path.join(root, 'bin/switchboard.js');
const users = Number(process.env.BENCH_USERS ?? 10_000);
const work = mkdtempSync(path.join(tmpdir(), 'switchboard-bench-plan-'));
const env = { BENCH_CSTA_PASSWORD: 'bench-secret', NO_COLOR: '1' };

function run(args: string[], expectStatus = 0): number {
  const t = performance.now();
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: work, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== expectStatus) throw new Error(`switchboard ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(0, 2000)}`);
  return performance.now() - t;
}

try {
  const dir = path.join(work, 'config');
  const gen = generateConfig(dir, users);
  const cold = run(['plan', 'config', '--detailed-exitcode'], 2);
  const createApply = run(['apply', 'config', '--auto-approve']);
  const [bare, noop] = timeProcesses([
    { cmd: process.execPath, args: [path.join(root, 'bench/bare-parse.mjs'), dir] },
    { cmd: process.execPath, args: [bin, 'plan', 'config', '--detailed-exitcode'], env: { ...env }, cwd: work, expectStatus: 0 },
  ]) as [Timing, Timing];
  // Change 1% of users: rename their first name.
  const usersFile = path.join(dir, 'company00/site0/users.yaml');
  const text = readFileSync(usersFile, 'utf8');
  let changed = 0;
  writeFileSync(usersFile, text.replace(/firstName: First(\d+)\n/g, (m, n: string) => (changed < users / 100 ? (changed++, `firstName: Renamed${n}\n`) : m)));
  const onePercentPlan = run(['plan', 'config', '--detailed-exitcode'], 2);
  const onePercentApply = run(['apply', 'config', '--auto-approve']);
  const ratio = noop.medianMs / bare.medianMs;
  process.stdout.write(
    `plan/apply: ${gen.users} users, ${gen.files} files, ${(gen.bytes / 1e6).toFixed(1)} MB, embedded runtime (whole processes)\n` +
      `${table([
        ['step', 'time', '× bare parse'],
        ['js-yaml bare parse (floor, median)', ms(bare.medianMs), '1.00'],
        ['plan, empty runtime (everything to create)', ms(cold), (cold / bare.medianMs).toFixed(2)],
        ['apply, create everything', ms(createApply), (createApply / bare.medianMs).toFixed(2)],
        [`no-op plan (median of ${noop.runs})`, ms(noop.medianMs), ratio.toFixed(2)],
        [`plan, ${changed} users changed (1%)`, ms(onePercentPlan), (onePercentPlan / bare.medianMs).toFixed(2)],
        [`apply, ${changed} users changed (1%)`, ms(onePercentApply), (onePercentApply / bare.medianMs).toFixed(2)],
      ])}\n` +
      `no-op plan: ${ratio.toFixed(2)}× the bare parse (target ≤ 2.50×) ${ratio <= 2.5 ? 'OK' : 'OVER TARGET'}\n`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
