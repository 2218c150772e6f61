/**
 * `switchboard status licences`: the licence screen of the manual (§3.3.2): per company and
 * application, the licences available (from the License), used (distinct users authorized,
 * directly or through a group, §7.4.1) and free. Licences live in the store, not in an engine:
 * the embedded runtime and a `switchboard serve` on the same data directory show the same.
 */
import type { LicenceStatus, RuntimeClient } from '../runtime/types.js';
import type { CliIo } from './main.js';
import { openRuntime } from './runtime.js';

export interface LicencesCommandOptions {
  readonly runtime?: string;
  readonly dataDir: string;
  readonly format: 'text' | 'json';
  /** Only this company's licences (for a company admin over --runtime, one of theirs). */
  readonly company?: string;
}

export function renderLicencesText(rows: readonly LicenceStatus[]): string {
  if (rows.length === 0) return 'no licences declared and no application authorized';
  const table = [['COMPANY', 'APPLICATION', 'AVAILABLE', 'USED', 'FREE'], ...rows.map((r) => [r.company, r.application, String(r.available), String(r.used), String(r.free)])];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  // Numbers right-aligned, as on the manual's screen.
  const lines = table.map((r) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd());
  const over = rows.filter((r) => r.free < 0).map((r) => `${r.company}: ${r.application} is used by ${r.used} users but ${r.available} licences are available: raise the License or authorize fewer users`);
  return [...lines, ...over].join('\n');
}

export async function licencesCommand(options: LicencesCommandOptions, io: CliIo): Promise<number> {
  const client: RuntimeClient = await openRuntime(options, io.env, io.cwd);
  let rows: LicenceStatus[];
  try {
    rows = await client.licences(options.company !== undefined ? { company: options.company } : {});
  } finally {
    await client.close();
  }
  io.stdout.write(options.format === 'json' ? `${JSON.stringify(rows, null, 2)}\n` : `${renderLicencesText(rows)}\n`);
  return 0;
}
