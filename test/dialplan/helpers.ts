import { compileDialPlan, isCompiled, resolveDialPlan } from '../../src/dialplan/index.js';
import type { CompiledDialPlan, DialPlanInput, DialPlanProblem, DialPlanSettings } from '../../src/dialplan/index.js';

/** The manual's settings (§5): external 0, international 00, country 33, internal length 4. */
export const MANUAL_SETTINGS: Partial<DialPlanSettings> = {
  externalPrefix: '0',
  internationalPrefix: '00',
  countryCode: '33',
  internalLength: 4,
  inverseLength: 9,
};

export function compile(input: DialPlanInput, domain: Partial<DialPlanSettings> = MANUAL_SETTINGS): CompiledDialPlan {
  const c = compileDialPlan(resolveDialPlan(input, domain));
  if (!isCompiled(c)) throw new Error(`dial plan does not compile:\n${c.map((p) => `${p.code}: ${p.message}`).join('\n')}`);
  return c;
}

export function problems(input: DialPlanInput, domain: Partial<DialPlanSettings> = MANUAL_SETTINGS): DialPlanProblem[] {
  const c = compileDialPlan(resolveDialPlan(input, domain));
  if (isCompiled(c)) throw new Error('expected the dial plan to be refused, but it compiled');
  return c;
}

/** One outgoing rule (plus optional others), no preset. */
export function rule(pattern: string, value: string, priority = 10) {
  return { priority, pattern, value };
}
