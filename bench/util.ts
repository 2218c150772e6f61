/** Small helpers shared by the benchmarks: timing whole processes and printing tables. */
import { spawnSync } from 'node:child_process';

export interface Timing {
  readonly medianMs: number;
  readonly minMs: number;
  readonly runs: number;
}

export interface Command {
  readonly cmd: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly expectStatus?: number;
}

const RUNS = Number(process.env.BENCH_RUNS ?? 9);

function once(c: Command): number {
  const t = performance.now();
  const r = spawnSync(c.cmd, c.args, { cwd: c.cwd, env: { ...process.env, ...c.env }, encoding: 'utf8', maxBuffer: 1 << 28 });
  const ms = performance.now() - t;
  if (r.status !== (c.expectStatus ?? 0)) throw new Error(`${c.cmd} ${c.args.join(' ')} exited ${r.status}: ${r.stderr.slice(0, 2000)}`);
  return ms;
}

function summarize(times: number[]): Timing {
  const sorted = [...times].sort((a, b) => a - b);
  return { medianMs: sorted[Math.floor(sorted.length / 2)]!, minMs: sorted[0]!, runs: sorted.length };
}

/**
 * Time several commands, interleaved run by run (so drift in machine load affects them
 * alike), after one warm-up run of each; wall-clock median and minimum per command.
 */
export function timeProcesses(commands: readonly Command[], runs = RUNS): Timing[] {
  for (const c of commands) once(c);
  const times = commands.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) commands.forEach((c, j) => times[j]!.push(once(c)));
  return times.map(summarize);
}

export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}

export const ms = (n: number) => `${n.toFixed(0)} ms`;
