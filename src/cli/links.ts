/**
 * `switchboard status links` and `switchboard status extensions`: the connection status of
 * every PBX link (manual §10.4) and the supervision of extensions in a number range (§10.5).
 * Links run in `switchboard serve`: ask it with --runtime URL. Read from the embedded runtime,
 * links are shown as configured, with a note naming the serve process running them, if any.
 */
import path from 'node:path';
import { serveHolder } from '../runtime/embedded.js';
import type { ExtensionStatus, LinkStatus, RuntimeClient } from '../runtime/types.js';
import type { CliIo } from './main.js';
import { CliError } from './reconcile.js';
import { openRuntime } from './runtime.js';

export interface LinksCommandOptions {
  readonly runtime?: string;
  readonly dataDir: string;
  readonly format: 'text' | 'json';
}

export interface ExtensionsCommandOptions extends LinksCommandOptions {
  readonly from?: string;
  readonly to?: string;
  readonly link?: string;
  readonly limit?: string;
}

async function withClient<T>(options: LinksCommandOptions, io: CliIo, use: (client: RuntimeClient) => Promise<T>): Promise<T> {
  const client: RuntimeClient = await openRuntime(options, io.env, io.cwd);
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

/** A note when the links shown are the configuration, not a live view. */
function offlineNote(options: LinksCommandOptions, io: CliIo): string | undefined {
  if (options.runtime ?? io.env.SWITCHBOARD_RUNTIME) return undefined;
  const pid = serveHolder(path.resolve(io.cwd, options.dataDir));
  return pid !== undefined
    ? `note: links are run by switchboard serve (PID ${pid}) on this data directory; pass --runtime URL (its address) to see their live state`
    : 'note: no switchboard serve runs on this data directory: links are shown as configured, not connected';
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

export function renderLinksText(links: readonly LinkStatus[]): string {
  if (links.length === 0) return 'no PBX links';
  const rows = [['LINK', 'PROTOCOL', 'HOST', 'PORT', 'SITE', 'CONNECTED', 'CURRENT', 'TOTAL', 'STATE']];
  const notes: string[] = [];
  for (const l of links) {
    rows.push([l.id, l.protocol, l.host ?? '-', l.port === undefined ? '-' : String(l.port), l.siteCluster ?? '-', l.connected ? 'yes' : 'no', String(l.current), l.total === undefined ? '-' : String(l.total), l.state]);
    const issues = [
      l.message,
      l.overCapacity ? `${l.overCapacity} over capacity (not supervised)` : undefined,
      l.refused ? `${l.refused} refused by the switch` : undefined,
      l.pending ? `${l.pending} pending` : undefined,
      l.nextAttemptAt ? `next attempt ${l.nextAttemptAt}` : undefined,
    ].filter((x): x is string => x !== undefined);
    if (issues.length > 0) notes.push(`${l.id}: ${issues.join('; ')}`);
  }
  return [table(rows), ...notes].join('\n');
}

export function renderExtensionsText(extensions: readonly ExtensionStatus[]): string {
  if (extensions.length === 0) return 'no extensions in this range';
  const rows = [['EXTENSION', 'LINK', 'TYPE', 'SUPERVISION', 'STATE', 'LAST EVENT', 'OWNER']];
  for (const x of extensions) {
    const last = x.lastEvent ? `${x.lastEvent.name} ${x.lastEvent.at}` : x.error ?? '-';
    rows.push([x.extension, x.link ?? '-', x.type, x.supervision, x.callState, last, x.owner]);
  }
  return table(rows);
}

export async function linksCommand(options: LinksCommandOptions, io: CliIo): Promise<number> {
  const links = await withClient(options, io, (c) => c.links());
  return print(options, io, links, renderLinksText);
}

/** JSON as is, or the text with the offline note. */
function print<T>(options: LinksCommandOptions, io: CliIo, value: T, text: (v: T) => string): number {
  if (options.format === 'json') {
    io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    return 0;
  }
  const note = offlineNote(options, io);
  io.stdout.write(`${text(value)}\n${note ? `${note}\n` : ''}`);
  return 0;
}

export async function extensionsCommand(options: ExtensionsCommandOptions, io: CliIo): Promise<number> {
  const limit = options.limit === undefined ? undefined : Number(options.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new CliError(`--limit: '${options.limit}' is not a positive whole number`);
  const extensions = await withClient(options, io, (c) =>
    c.extensions({ ...(options.from !== undefined ? { from: options.from } : {}), ...(options.to !== undefined ? { to: options.to } : {}), ...(options.link !== undefined ? { link: options.link } : {}), ...(limit !== undefined ? { limit } : {}) }),
  );
  return print(options, io, extensions, renderExtensionsText);
}
