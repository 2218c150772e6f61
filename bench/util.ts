/** Small helpers shared by the benchmarks: timing whole processes and printing tables. */
import { spawnSync } from 'node:child_process';

export interface Timing {
  readonly medianMs: number;
  readonly minMs: number;
  readonly runs: number;
}

/** Run a command `runs` times (after one warm-up) and return its wall-clock median. */
export function timeProcess(cmd: string, args: readonly string[], options: { runs?: number; env?: NodeJS.ProcessEnv; expectStatus?: number } = {}): Timing {
  const runs = options.runs ?? 5;
  const times: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const t = performance.now();
    const r = spawnSync(cmd, args, { env: { ...process.env, ...options.env }, encoding: 'utf8', maxBuffer: 1 << 28 });
    const ms = performance.now() - t;
    if (r.status !== (options.expectStatus ?? 0)) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(0, 2000)}`);
    if (i > 0) times.push(ms);
  }
  times.sort((a, b) => a - b);
  return { medianMs: times[Math.floor(times.length / 2)]!, minMs: times[0]!, runs };
}

export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}

export const ms = (n: number) => `${n.toFixed(0)} ms`;
