/**
 * `switchboard dialplan test`: translate numbers with a domain's dial plan as declared in the
 * configuration, printing the result and the reason for each (the admin's "test these rules"
 * box, §5). Secrets are not needed for this, so missing ones are not reported.
 */
import { compileDialPlan, isCompiled, resolveDialPlan, translate, type DialPlanInput, type Direction, type Translation } from '../dialplan/index.js';
import { validateConfig } from '../validate/validate.js';
import { domainDialDefaults } from '../validate/dialplan-rules.js';
import { get } from '../model/resource.js';
import type { SecretSource } from '../config/secrets.js';
import type { Diagnostic } from '../diagnostics.js';

/** Every secret resolves to a placeholder: dial plans hold no secrets. */
const IGNORED_SECRETS: SecretSource = { env: () => '', file: () => ({ ok: true, value: '' }) };

export type DialPlanTestOutcome =
  | { ok: true; source: 'dialplan' | 'domain-defaults'; translations: Translation[] }
  | { ok: false; message: string; diagnostics: Diagnostic[] };

export function testDialPlan(dir: string, domain: string, numbers: readonly string[], direction: Direction, cwd: string): DialPlanTestOutcome {
  const result = validateConfig(dir, { secrets: IGNORED_SECRETS, cwd });
  const domainResource = get(result.state, 'Domain', domain);
  const plan = get(result.state, 'DialPlan', domain);
  const relevant = result.diagnostics.filter((d) => d.severity === 'error' && (d.file === plan?.source.file || d.file === domainResource?.source.file) && (d.code.startsWith('yaml') || /^(setting|rule|priority|pattern|placeholder|value|regex)-/.test(d.code) || d.code === 'missing-field' || d.code === 'wrong-type' || d.code === 'invalid-format' || d.code === 'unknown-field'));
  if (!domainResource && !plan) {
    const known = [...(result.state.byKind.get('Domain')?.keys() ?? [])];
    return { ok: false, message: `no Domain '${domain}' in ${dir}${known.length ? ` (domains: ${known.join(', ')})` : ''}`, diagnostics: result.diagnostics.filter((d) => d.severity === 'error') };
  }
  const resolved = resolveDialPlan((plan?.body ?? {}) as DialPlanInput, domainDialDefaults(domainResource?.body as Record<string, unknown> | undefined));
  const compiled = compileDialPlan(resolved);
  if (!isCompiled(compiled) || (plan === undefined && relevant.length > 0)) {
    return { ok: false, message: `the dial plan of '${domain}' is invalid: run switchboard validate`, diagnostics: relevant };
  }
  return { ok: true, source: plan ? 'dialplan' : 'domain-defaults', translations: numbers.map((n) => translate(compiled, n, direction)) };
}
