import type { RuleContext } from './rules.js';

/** Dial-plan checks: regex rules compile safely, declared test cases pass, no dead rules. */
export function checkDialPlans(_ctx: RuleContext): void {
  // filled in with the dial-plan engine
}
