/**
 * The `switchboard` command line. The only place that touches process.stdout, stderr and
 * exit codes: 0 success, 1 invalid input or failure, 2 usage error.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { validateConfig } from '../validate/validate.js';
import { processSecretSource } from '../config/secrets.js';
import { testDialPlan } from './dialplan.js';
import { countBySeverity, plural, renderDiagnosticsText, useColour } from './output.js';

const SECRETS_DIR_FLAGS = '--secrets-dir <dir>';
const SECRETS_DIR_HELP = 'also let ${file:} secret references read from this directory (repeatable); by default only files under the configuration directory are read';

export const EXIT_OK = 0;
export const EXIT_INVALID = 1;
export const EXIT_USAGE = 2;

export interface CliIo {
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export async function main(argv: readonly string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() }): Promise<number> {
  let exitCode = EXIT_OK;
  const program = new Command('switchboard')
    .description('Config as code for a CTI/presence server: validate, plan and apply YAML configuration.')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });

  const collect = (v: string, prev: string[] = []) => [...prev, v];
  program
    .command('validate')
    .description('check a configuration tree and report every problem as FILE:LINE:COL diagnostics')
    .argument('[dir]', 'configuration directory or file', '.')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--timings', 'print the time each phase took (to stderr)')
    .option(SECRETS_DIR_FLAGS, SECRETS_DIR_HELP, collect)
    .action((dir: string, opts: { format: 'text' | 'json'; timings?: boolean; secretsDir?: string[] }) => {
      const result = validateConfig(dir, { secrets: processSecretSource(io.env, io.cwd, { root: dir, secretsDirs: opts.secretsDir ?? [] }), cwd: io.cwd });
      if (opts.timings) io.stderr.write(`timings: ${Object.entries(result.timings).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join(', ')}\n`);
      const { errors, warnings } = countBySeverity(result.diagnostics);
      const files = result.tree.texts.size;
      if (opts.format === 'json') {
        io.stdout.write(
          `${JSON.stringify({ valid: result.ok, summary: { files, resources: result.state.resources.length, errors, warnings }, diagnostics: result.diagnostics }, null, 2)}\n`,
        );
      } else {
        const text = renderDiagnosticsText(result.diagnostics, useColour(io.stderr));
        if (text) io.stderr.write(`${text}\n`);
        const summary = `${result.ok ? 'valid' : 'invalid'}: ${plural(files, 'file')}, ${plural(result.state.resources.length, 'resource')}, ${plural(errors, 'error')}, ${plural(warnings, 'warning')}`;
        (result.ok ? io.stdout : io.stderr).write(`${summary}\n`);
      }
      exitCode = result.ok ? EXIT_OK : EXIT_INVALID;
    });

  // Reconciler commands load their modules on use, so that `validate` stays fast.
  const reconcile = () => import('./reconcile.js');
  const runWith = async (f: () => Promise<number>) => {
    try {
      exitCode = await f();
    } catch (e) {
      const { CliError } = await reconcile();
      if (!(e instanceof CliError) && !isRuntimeUnavailable(e)) throw e;
      io.stderr.write(`switchboard: ${(e as Error).message}\n`);
      exitCode = EXIT_INVALID;
    }
  };

  program
    .command('plan')
    .description('show what applying the configuration would change in the runtime, and what it does to the running system')
    .argument('[dir]', 'configuration directory or file', '.')
    .option('--runtime <url>', 'a running switchboard serve (default: SWITCHBOARD_RUNTIME, else the embedded runtime in ./.switchboard)')
    .option('--out <file>', 'also save the plan as JSON, to apply exactly it later')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'markdown', 'json']).default('text'))
    .option('--detailed-exitcode', 'exit 0 when there are no changes, 2 when there are, 1 on error')
    .option('--target <id>', 'only changes to this id and what is under it (repeatable): acme/paris, User/acme/paris/jdoe', collect)
    .option(SECRETS_DIR_FLAGS, SECRETS_DIR_HELP, collect)
    .action(async (dir: string, opts: { runtime?: string; out?: string; format: 'text' | 'markdown' | 'json'; detailedExitcode?: boolean; target?: string[]; secretsDir?: string[] }) => {
      await runWith(async () => (await reconcile()).planCommand(dir, opts, io));
    });

  program
    .command('apply')
    .description('apply the configuration (after showing the plan and asking), or exactly a saved plan file')
    .argument('[dir-or-plan]', 'configuration directory, or a plan file saved with plan --out', '.')
    .option('--runtime <url>', 'a running switchboard serve (default: SWITCHBOARD_RUNTIME, else the embedded runtime)')
    .option('--auto-approve', 'do not ask for confirmation')
    .option('--allow-destroy <kinds>', 'allow deleting these kinds beyond the safety thresholds (comma-separated: User,Group,Domain)', collect)
    .option('--target <id>', 'only changes to this id and what is under it (repeatable)', collect)
    .option(SECRETS_DIR_FLAGS, SECRETS_DIR_HELP, collect)
    .action(async (target: string, opts: { runtime?: string; autoApprove?: boolean; allowDestroy?: string[]; target?: string[]; secretsDir?: string[] }) => {
      await runWith(async () => (await reconcile()).applyCommand(target, opts, io));
    });

  program
    .command('export')
    .description('write the live state as configuration files (secrets become ${env:…} placeholders)')
    .requiredOption('--out <dir>', 'directory to write into')
    .option('--company <name>', 'only this company')
    .option('--include-synced', 'also resources managed by sync engines (imports, directories)')
    .option('--runtime <url>', 'a running switchboard serve (default: SWITCHBOARD_RUNTIME, else the embedded runtime)')
    .action(async (opts: { out: string; company?: string; includeSynced?: boolean; runtime?: string }) => {
      await runWith(async () => (await reconcile()).exportCommand(opts, io));
    });

  program
    .command('watch')
    .description('keep a runtime converged on a configuration: apply changes as files change (deletions held unless allowed), report and revert out-of-band edits (docs/watch.md)')
    .argument('[dir]', 'configuration directory or file', '.')
    .option('--runtime <url>', 'a running switchboard serve (default: SWITCHBOARD_RUNTIME, else the embedded runtime)')
    .option('--resync <duration>', 'how often to re-read the live state and revert out-of-band changes: 30s, 5m, 1h; 0 for never', '5m')
    .option('--debounce <duration>', 'how long the files must be quiet before a cycle starts', '300ms')
    .option('--allow-destroy <kinds>', 'apply deletions of these kinds automatically; other deletions are held (comma-separated: User,Group)', collect)
    .option('--committed-only', 'apply only what is committed in git: react to HEAD moving, ignore working-tree edits')
    .option('--no-self-heal', 'report out-of-band changes but do not revert them')
    .option(SECRETS_DIR_FLAGS, SECRETS_DIR_HELP, collect)
    .addOption(new Option('--format <format>', 'output format: one line, or one JSON object, per cycle').choices(['text', 'json']).default('text'))
    .action(async (dir: string, opts: { runtime?: string; resync: string; debounce: string; allowDestroy?: string[]; committedOnly?: boolean; selfHeal: boolean; format: 'text' | 'json'; secretsDir?: string[] }) => {
      await runWith(async () => (await import('./watch.js')).watchCommand(dir, opts, io));
    });

  program
    .command('history')
    .description('list the change sets committed to the runtime: revision, time, who, how, git commit (+dirty) and summary')
    .option('--runtime <url>', 'a running switchboard serve (default: SWITCHBOARD_RUNTIME, else the embedded runtime)')
    .option('--limit <n>', 'how many, newest first', '20')
    .addOption(new Option('--via <via>', 'only change sets made this way').choices(['plan', 'api', 'sync']))
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (opts: { runtime?: string; limit: string; via?: 'plan' | 'api' | 'sync'; format: 'text' | 'json' }) => {
      await runWith(async () => (await import('./history.js')).historyCommand(opts, io));
    });

  // The server's modules (fastify, pino, prom-client) load only for these commands.
  const server = () => import('../server/commands.js');
  program
    .command('serve')
    .description('serve the runtime of a data directory over HTTP until SIGTERM or SIGINT (docs/runtime.md, "HTTP API")')
    .option('--data-dir <dir>', 'the runtime data directory', '.switchboard')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:7480')
    .option('--rate-limit <name=n>', 'change a rate limit (repeatable or comma-separated): window (s), per-token, per-address, auth-failures, fingerprint-requests, fingerprint-values, token-creations, tracked (docs/runtime.md, "Rate limits")', collect)
    .option('--files-dir <dir>', 'the folder CSV directories read their files from, and are confined to', 'DATA_DIR/files')
    .action(async (opts: { dataDir: string; listen: string; rateLimit?: string[]; filesDir: string }) => {
      const { filesDir, ...rest } = opts;
      exitCode = await (await server()).serve({ ...rest, ...(filesDir !== 'DATA_DIR/files' ? { filesDir } : {}) }, io);
    });
  program
    .command('token')
    .description('API tokens of administrators')
    .command('create')
    .description('make a bearer token for an AdminAccount, in the store of a data directory; printed once')
    .argument('<username>', 'the AdminAccount username')
    .option('--data-dir <dir>', 'the runtime data directory', '.switchboard')
    .action(async (username: string, opts: { dataDir: string }) => {
      exitCode = await (await server()).tokenCreateCommand(username, opts, io);
    });

  const dialplan = program.command('dialplan').description('work with dial plans (number translation, manual §5)');
  dialplan
    .command('test')
    .description("translate numbers with a domain's dial plan and say which rule did it; exit 1 if one cannot be translated")
    .argument('<[dir] numbers...>', 'an optional configuration directory (default .), then numbers as people type them (quote those with spaces)')
    .requiredOption('--domain <company/domain>', 'the domain whose dial plan to use')
    .option('--incoming', 'translate as incoming caller numbers instead of numbers dialled out')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action((args: string[], opts: { domain: string; incoming?: boolean; format: 'text' | 'json' }) => {
      // The directory is optional before the numbers: a first argument that is an existing
      // path (and not the only argument) is the directory.
      const { dir, numbers } = splitDirAndNumbers(args, io.cwd);
      const outcome = testDialPlan(dir, opts.domain, numbers, opts.incoming ? 'incoming' : 'outgoing', io.cwd);
      if (!outcome.ok) {
        const text = renderDiagnosticsText(outcome.diagnostics, useColour(io.stderr));
        io.stderr.write(`${text ? `${text}\n` : ''}switchboard: ${outcome.message}\n`);
        exitCode = EXIT_INVALID;
        return;
      }
      if (opts.format === 'json') {
        io.stdout.write(`${JSON.stringify({ domain: opts.domain, source: outcome.source, translations: outcome.translations }, null, 2)}\n`);
      } else {
        if (outcome.source === 'domain-defaults') io.stderr.write(`note: no DialPlan for ${opts.domain}: using the domain's settings with no rules\n`);
        const width = Math.max(...outcome.translations.map((t) => t.input.length));
        for (const t of outcome.translations) io.stdout.write(`${t.input.padEnd(width)}  →  ${t.result ?? '(cannot translate)'}    ${t.reason}\n`);
      }
      exitCode = outcome.translations.some((t) => t.result === null) ? EXIT_INVALID : EXIT_OK;
    });

  const sync = program.command('sync').description('LDAP user imports and directory synchronization (docs/sync.md)');
  sync
    .command('run')
    .description('run a user import or a directory now: read the whole source, then commit one change set, or nothing (refused when unsafe)')
    .argument('<name>', 'the import or directory: company/domain/name, or its name when unique; UserImport/… or Directory/… to choose the kind')
    .option('--dry-run', 'show the changes the run would make; write nothing')
    .option('--data-dir <dir>', 'the runtime data directory', '.switchboard')
    .option('--max-remove-percent <n>', 'largest share of the managed users (contacts) one run may delete or disable (default 30)')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--files-dir <dir>', 'the folder CSV directories read their files from, and are confined to', 'DATA_DIR/files')
    .action(async (name: string, opts: { dryRun?: boolean; dataDir: string; maxRemovePercent?: string; format: 'text' | 'json'; filesDir: string }) => {
      const { filesDir, ...rest } = opts;
      exitCode = await (await import('./sync.js')).syncRunCommand(name, { ...rest, dataDir: path.resolve(io.cwd, opts.dataDir), ...(filesDir !== 'DATA_DIR/files' ? { filesDir: path.resolve(io.cwd, filesDir) } : {}) }, io);
    });

  const status = program
    .command('status')
    .description("the runtime's revision, its engines, and each user import's schedule and last run (start, end, counts); `status links`, `status extensions` for the PBX links; `status licences` for the licences")
    .option('--runtime <url>', 'a running switchboard serve (default: SWITCHBOARD_RUNTIME, else the data directory)')
    .option('--data-dir <dir>', 'the runtime data directory', '.switchboard')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (opts: { runtime?: string; dataDir: string; format: 'text' | 'json' }) => {
      await runWith(async () => (await import('./sync.js')).statusCommand({ ...opts, dataDir: path.resolve(io.cwd, opts.dataDir) }, io));
    });
  // `--runtime`, `--format` and `--data-dir` are options of `status` too: given before or after the subcommand, both count.
  const withStatusOptions = <T extends { runtime?: string; dataDir?: string; format?: 'text' | 'json' }>(opts: T): T & { dataDir: string; format: 'text' | 'json' } => {
    const parent = status.opts<{ runtime?: string; dataDir: string; format: 'text' | 'json' }>();
    const runtime = opts.runtime ?? parent.runtime;
    return { ...opts, ...(runtime !== undefined ? { runtime } : {}), dataDir: opts.dataDir ?? parent.dataDir, format: opts.format ?? parent.format };
  };
  status
    .command('links')
    .description('each PBX link: host, port, site, connected, current (supervised extensions), total (capacity), state (manual §10.4)')
    .option('--runtime <url>', 'the switchboard serve running the links (default: SWITCHBOARD_RUNTIME, else the embedded runtime: links as configured)')
    .option('--data-dir <dir>', 'the embedded runtime data directory (default .switchboard)')
    .addOption(new Option('--format <format>', 'output format (default text)').choices(['text', 'json']))
    .action(async (opts: { runtime?: string; dataDir?: string; format?: 'text' | 'json' }) => {
      await runWith(async () => (await import('./links.js')).linksCommand(withStatusOptions(opts), io));
    });
  status
    .command('licences')
    .description('per company and application: licences available (the License), used (distinct users authorized, directly or through a group) and free (manual §3.3.2)')
    .option('--company <name>', "only this company's licences")
    .option('--runtime <url>', 'a running switchboard serve (default: SWITCHBOARD_RUNTIME, else the embedded runtime)')
    .option('--data-dir <dir>', 'the embedded runtime data directory (default .switchboard)')
    .addOption(new Option('--format <format>', 'output format (default text)').choices(['text', 'json']))
    .action(async (opts: { company?: string; runtime?: string; dataDir?: string; format?: 'text' | 'json' }) => {
      await runWith(async () => (await import('./licences.js')).licencesCommand(withStatusOptions(opts), io));
    });
  status
    .command('extensions')
    .description('supervision of the configured extensions, in number order: link, type, supervised or why not, call state, last event (manual §10.5)')
    .option('--from <number>', 'first extension of the range')
    .option('--to <number>', 'last extension of the range')
    .option('--link <id>', 'only the extensions of this link (company/domain/name)')
    .option('--limit <n>', 'at most this many extensions')
    .option('--runtime <url>', 'the switchboard serve running the links (default: SWITCHBOARD_RUNTIME, else the embedded runtime: extensions as configured)')
    .option('--data-dir <dir>', 'the embedded runtime data directory (default .switchboard)')
    .addOption(new Option('--format <format>', 'output format (default text)').choices(['text', 'json']))
    .action(async (opts: { from?: string; to?: string; link?: string; limit?: string; runtime?: string; dataDir?: string; format?: 'text' | 'json' }) => {
      await runWith(async () => (await import('./links.js')).extensionsCommand(withStatusOptions(opts), io));
    });
  program
    .command('lookup')
    .description("find the user or directory contact a caller number belongs to, through the domain's incoming dial-plan rules and inverse length; exit 1 when nobody matches")
    .argument('<number>', 'the caller number as received')
    .requiredOption('--domain <company/domain>', 'the domain receiving the call')
    .option('--data-dir <dir>', 'the runtime data directory', '.switchboard')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (number: string, opts: { domain: string; dataDir: string; format: 'text' | 'json' }) => {
      exitCode = await (await import('./sync.js')).lookupCommand(number, { ...opts, dataDir: path.resolve(io.cwd, opts.dataDir) }, io);
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? EXIT_OK : EXIT_USAGE;
    }
    io.stderr.write(`switchboard: internal error: ${(e as Error).message}\n`);
    return EXIT_INVALID;
  }
  return exitCode;
}

function splitDirAndNumbers(args: string[], cwd: string): { dir: string; numbers: string[] } {
  const [first, ...rest] = args;
  if (first === undefined || rest.length === 0) return { dir: '.', numbers: args };
  return existsSync(path.resolve(cwd, first)) ? { dir: first, numbers: rest } : { dir: '.', numbers: args };
}

/** Errors that mean the runtime could not be reached or refused the credentials: reported, not crashed on. */
function isRuntimeUnavailable(e: unknown): boolean {
  return e instanceof Error && (e.name === 'RuntimeError' || /ECONNREFUSED|fetch failed|refused the token|timed out/i.test(e.message));
}
