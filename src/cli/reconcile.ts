/**
 * `switchboard plan`, `apply` and `export`: the edges of the reconciler — reading the
 * configuration and plan files, talking to the runtime, prompting, printing, exit codes.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { CliIo } from './main.js';
import { openRuntime } from './runtime.js';
import { gitInfo } from './git.js';
import { countBySeverity, renderDiagnosticsText, useColour } from './output.js';
import { processSecretSource } from '../config/secrets.js';
import { validateConfig } from '../validate/validate.js';
import { makePlan } from '../plan/planner.js';
import { belongsToCompany, COMPANY_SCOPE_FILE } from '../model/company-scope.js';
import { parseAllowDestroy } from '../plan/safety.js';
import { PLAN_FORMAT_VERSION, type Plan } from '../plan/types.js';
import { renderText } from '../render/text.js';
import { renderMarkdown } from '../render/markdown.js';
import { planFileProblems } from '../apply/plan-file.js';
import { applyPlan, secretsFromReferences, type ApplyOutcome, type SecretValues } from '../apply/apply.js';
import { getPath, type DesiredState } from '../model/resource.js';
import { fieldPath } from '../diagnostics.js';
import { exportState } from '../export/export.js';
import type { RuntimeClient } from '../runtime/types.js';

export type Format = 'text' | 'markdown' | 'json';

export interface PlanCommandOptions {
  readonly runtime?: string;
  readonly out?: string;
  readonly format: Format;
  readonly detailedExitcode?: boolean;
  readonly target?: readonly string[];
  readonly secretsDir?: readonly string[];
}

/** Thrown for problems the user must fix; message printed, exit 1. */
export class CliError extends Error {}

function render(plan: Plan, format: Format, io: CliIo): string {
  if (format === 'json') return `${JSON.stringify(plan, null, 2)}\n`;
  if (format === 'markdown') return renderMarkdown(plan);
  return renderText(plan, { colour: useColour(io.stdout) });
}

/** Validate the configuration; print diagnostics; undefined when invalid. */
function loadDesired(dir: string, io: CliIo, secretsDirs: readonly string[] = []): DesiredState | undefined {
  const result = validateConfig(dir, { secrets: processSecretSource(io.env, io.cwd, { root: dir, secretsDirs }), cwd: io.cwd });
  const text = renderDiagnosticsText(result.diagnostics, useColour(io.stderr));
  if (text) io.stderr.write(`${text}\n`);
  if (!result.ok) {
    const { errors } = countBySeverity(result.diagnostics);
    io.stderr.write(`switchboard: the configuration has ${errors} error${errors === 1 ? '' : 's'}: fix ${errors === 1 ? 'it' : 'them'} first (switchboard validate ${dir})\n`);
    return undefined;
  }
  const company = companyScope(dir, io.cwd);
  if (company !== undefined) {
    const outside = result.state.resources.filter((r) => !belongsToCompany(r, company));
    if (outside.length > 0) {
      io.stderr.write(`switchboard: ${path.join(dir, COMPANY_SCOPE_FILE)} scopes this configuration to company '${company}', but it declares ${outside.map((r) => `${r.kind} '${r.id}' (${r.source.file})`).join(', ')}: move ${outside.length === 1 ? 'it' : 'them'} to the configuration that owns ${outside.length === 1 ? 'it' : 'them'}, or delete ${COMPANY_SCOPE_FILE} to plan the whole server\n`);
      return undefined;
    }
  }
  return result.state;
}

async function withRuntime<T>(choice: { runtime?: string }, io: CliIo, f: (client: RuntimeClient) => Promise<T>): Promise<T> {
  const client = await openRuntime(choice, io.env, io.cwd);
  try {
    return await f(client);
  } finally {
    await client.close();
  }
}

/**
 * The company a configuration directory is scoped to: `export --company` writes its name in
 * COMPANY_SCOPE_FILE, and a plan of that directory then owns only that company's resources.
 */
export function companyScope(dir: string, cwd: string): string | undefined {
  const file = path.join(path.resolve(cwd, dir), COMPANY_SCOPE_FILE);
  if (!existsSync(file) || !statSync(file).isFile()) return undefined;
  const name = readFileSync(file, 'utf8').trim();
  return name === '' ? undefined : name;
}

async function planFor(dir: string, state: DesiredState, client: RuntimeClient, io: CliIo, targets?: readonly string[]): Promise<Plan> {
  const git = gitInfo(dir, io.cwd);
  const company = companyScope(dir, io.cwd);
  return makePlan(state, client, { root: dir, ...(targets && targets.length ? { targets } : {}), ...(company !== undefined ? { company } : {}), ...(git ? { git } : {}) });
}

export async function planCommand(dir: string, options: PlanCommandOptions, io: CliIo): Promise<number> {
  const state = loadDesired(dir, io, options.secretsDir);
  if (!state) return 1;
  const plan = await withRuntime(options, io, (client) => planFor(dir, state, client, io, options.target));
  if (options.out) writeFileSync(path.resolve(io.cwd, options.out), `${JSON.stringify(plan, null, 2)}\n`);
  io.stdout.write(render(plan, options.format, io));
  if (options.out) io.stderr.write(`Plan saved to ${options.out}: apply it with switchboard apply ${options.out}\n`);
  return options.detailedExitcode && plan.changes.length > 0 ? 2 : 0;
}

/** Secret values from the validated configuration (apply of a directory). */
function secretsFromState(state: DesiredState): SecretValues {
  const byKey = new Map(state.resources.map((r) => [`${r.kind}\u0000${r.id}`, r]));
  return (kind, id, field) => {
    const r = byKey.get(`${kind}\u0000${id}`);
    if (!r) return undefined;
    const p = r.secrets.find((s) => fieldPath(s) === field);
    const v = p ? getPath(r.body, p) : undefined;
    return typeof v === 'string' ? v : undefined;
  };
}

export function readPlanFile(file: string, cwd: string): Plan {
  let plan: unknown;
  try {
    plan = JSON.parse(readFileSync(path.resolve(cwd, file), 'utf8'));
  } catch (e) {
    throw new CliError(`cannot read plan ${file}: ${(e as Error).message}`);
  }
  const problems = planFileProblems(plan);
  if (problems.length > 0) {
    throw new CliError(`${file} is not a Switchboard plan of format version ${PLAN_FORMAT_VERSION} that can be applied (make one with switchboard plan --out ${file}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
  return plan as Plan;
}

export interface ApplyCommandOptions {
  readonly runtime?: string;
  readonly autoApprove?: boolean;
  readonly allowDestroy?: readonly string[];
  readonly target?: readonly string[];
  readonly secretsDir?: readonly string[];
}

async function confirm(io: CliIo & { stdin?: NodeJS.ReadStream }): Promise<boolean> {
  const stdin = io.stdin ?? process.stdin;
  const rl = createInterface({ input: stdin, output: io.stderr });
  try {
    const answer = await rl.question("Apply these changes? Only 'yes' is accepted: ");
    return answer.trim() === 'yes';
  } finally {
    rl.close();
  }
}

function report(outcome: ApplyOutcome, io: CliIo, plan: Plan): number {
  if (outcome.ok) {
    io.stdout.write(`Applied ${outcome.applied} change${outcome.applied === 1 ? '' : 's'}. Runtime revision is now ${outcome.revision}.\n`);
    return 0;
  }
  if (outcome.code === 'unsafe') {
    io.stderr.write(`switchboard: refused, nothing applied:\n${outcome.problems.map((p) => `  - ${p.message}`).join('\n')}\n`);
  } else if (outcome.code === 'stale') {
    io.stderr.write(
      `switchboard: refused, nothing applied: the plan was made at revision ${plan.runtime.revision} and the runtime has moved to revision ${outcome.revision} since; make a new plan (switchboard plan ${plan.config.root})\n`,
    );
  } else if (outcome.code === 'secret') {
    io.stderr.write(`switchboard: refused, nothing applied: ${outcome.message}\n`);
  } else {
    const problems = 'problems' in outcome ? outcome.problems : [];
    io.stderr.write(`switchboard: the runtime refused the change set (${outcome.code}), nothing applied: ${outcome.message}\n${problems.map((p) => `  - ${p.kind ? `${p.kind} ${p.id ?? ''}${p.path ? ` ${p.path}` : ''}: ` : ''}${p.message} [${p.code}]`).join('\n')}${problems.length ? '\n' : ''}`);
  }
  return 1;
}

export async function applyCommand(target: string, options: ApplyCommandOptions, io: CliIo & { stdin?: NodeJS.ReadStream }): Promise<number> {
  const allow = parseAllowDestroy(options.allowDestroy ?? []);
  if (allow.unknown.length) throw new CliError(`--allow-destroy: unknown kind ${allow.unknown.map((u) => `'${u}'`).join(', ')}`);
  const abs = path.resolve(io.cwd, target);
  const isPlanFile = existsSync(abs) && statSync(abs).isFile() && target.endsWith('.json');
  if (isPlanFile) {
    const plan = readPlanFile(target, io.cwd);
    if (plan.config.git?.dirty) io.stderr.write(`warning: this plan was made from a configuration with uncommitted changes (git ${plan.config.git.commit.slice(0, 12)} + local edits)\n`);
    io.stdout.write(renderText(plan, { colour: useColour(io.stdout) }));
    if (plan.changes.length === 0) return 0;
    return withRuntime(options, io, async (client) =>
      report(await applyPlan(plan, client, { allowDestroy: allow.kinds, secrets: secretsFromReferences(path.resolve(io.cwd, plan.config.root), processSecretSource(io.env, io.cwd, { root: plan.config.root, secretsDirs: options.secretsDir ?? [] })) }), io, plan),
    );
  }
  const state = loadDesired(target, io, options.secretsDir);
  if (!state) return 1;
  return withRuntime(options, io, async (client) => {
    const plan = await planFor(target, state, client, io, options.target);
    io.stdout.write(renderText(plan, { colour: useColour(io.stdout) }));
    if (plan.changes.length === 0) return 0;
    if (!options.autoApprove) {
      const stdin = io.stdin ?? process.stdin;
      if (!stdin.isTTY) throw new CliError('refusing to apply without confirmation: there is no terminal to ask on; review the plan and pass --auto-approve, or apply a saved plan file');
      if (!(await confirm(io))) {
        io.stderr.write('Apply cancelled: nothing applied.\n');
        return 1;
      }
    }
    return report(await applyPlan(plan, client, { allowDestroy: allow.kinds, secrets: secretsFromState(state) }), io, plan);
  });
}

export interface ExportCommandOptions {
  readonly runtime?: string;
  readonly company?: string;
  readonly out: string;
  readonly includeSynced?: boolean;
}

export async function exportCommand(options: ExportCommandOptions, io: CliIo): Promise<number> {
  // The whole state (as the caller may see it): a one-company admin account is server-wide in
  // the runtime, yet belongs to that company's export (belongsToCompany).
  const state = await withRuntime(options, io, (client) => client.state());
  const result = exportState(state.resources, { ...(options.company ? { company: options.company } : {}), ...(options.includeSynced ? { includeSynced: true } : {}) });
  const out = path.resolve(io.cwd, options.out);
  for (const [file, text] of result.files) {
    const p = path.join(out, file);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, text);
  }
  if (options.company) writeFileSync(path.join(out, COMPANY_SCOPE_FILE), `${options.company}\n`);
  if (result.secrets.length) {
    writeFileSync(path.join(out, 'secrets.env.example'), `# Variables referenced by the exported configuration (set them before plan/apply).\n${result.secrets.map((s) => `# ${s.kind} ${s.id} ${s.field}\n${s.variable}=`).join('\n')}\n`);
  }
  io.stdout.write(`Exported ${result.resources} resources at revision ${state.revision} into ${result.files.size} files under ${options.out}.\n`);
  if (result.secrets.length) io.stdout.write(`${result.secrets.length} secret(s) became \${env:…} placeholders: set the variables listed in ${path.join(options.out, 'secrets.env.example')}.\n`);
  return 0;
}
