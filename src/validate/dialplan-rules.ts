/**
 * Dial-plan checks during validation: each DialPlan is resolved against its domain's
 * dial-plan basics, compiled (regex subset and backtracking safety, placeholders, settings),
 * and its declared test cases are run; unreachable rules are warned.
 */
import { compileDialPlan, isCompiled, resolveDialPlan, translate, type DialPlanInput, type DialPlanSettings } from '../dialplan/index.js';
import { all, get } from '../model/resource.js';
import type { RuleContext } from './rules.js';

type Body = Record<string, unknown>;

/** The dial-plan basics a Domain carries (§3.2), as defaults for its DialPlan. */
export function domainDialDefaults(domain: Body | undefined): Partial<DialPlanSettings> {
  const out: Partial<DialPlanSettings> = {};
  if (!domain) return out;
  if (typeof domain.internalLength === 'number') out.internalLength = domain.internalLength;
  if (typeof domain.countryCode === 'string') out.countryCode = domain.countryCode;
  if (typeof domain.externalPrefix === 'string') out.externalPrefix = domain.externalPrefix;
  if (typeof domain.internationalPrefix === 'string') out.internationalPrefix = domain.internationalPrefix;
  return out;
}

export function checkDialPlans(ctx: RuleContext): void {
  for (const plan of all(ctx.state, 'DialPlan')) {
    const body = plan.body as Body;
    const domain = get(ctx.state, 'Domain', String(body.domain));
    const resolved = resolveDialPlan(body as DialPlanInput, domainDialDefaults(domain?.body as Body | undefined));
    const compiled = compileDialPlan(resolved);
    if (!isCompiled(compiled)) {
      for (const p of compiled) (p.severity === 'error' ? ctx.error : ctx.warning)(p.code, p.message, plan, p.path);
      continue;
    }
    for (const w of compiled.warnings) ctx.warning(w.code, w.message, plan, w.path);
    const tests = Array.isArray(body.tests) ? (body.tests as Body[]) : [];
    tests.forEach((t, i) => {
      if (typeof t.number !== 'string' || typeof t.expect !== 'string') return;
      const direction = t.direction === 'incoming' ? 'incoming' : 'outgoing';
      const got = translate(compiled, t.number, direction);
      if (got.result !== t.expect) {
        ctx.error(
          'dialplan-test-failed',
          `dial-plan test: ${direction} '${t.number}' gives ${got.result === null ? 'no number' : `'${got.result}'`}, expected '${t.expect}' — ${got.reason}`,
          plan,
          ['tests', i, 'expect'],
        );
      }
    });
  }
}
