/**
 * Analyses over compiled dial plans: rules that can never be selected, how two dial plans
 * translate a sample of numbers differently, and the built-in sample.
 */
import { BoundedRegexError } from './matcher.js';
import { DEFAULT_SETTINGS } from './preset.js';
import { translate } from './translate.js';
import type {
  BehaviourChange,
  CompiledDialPlan,
  CompiledRule,
  DialPlanSettings,
  SampleNumber,
  TranslationRuleRef,
  UnreachableRule,
} from './types.js';

function ref(rule: CompiledRule): TranslationRuleRef & { pattern: string } {
  return {
    priority: rule.priority,
    ...(rule.name !== undefined ? { name: rule.name } : {}),
    direction: rule.direction,
    source: rule.source,
    ...(rule.index !== undefined ? { index: rule.index } : {}),
    pattern: rule.pattern,
  };
}

/**
 * True only when `earlier` certainly matches every dial string `later` matches.
 * Every string `later` matches starts with `later.literalPrefix` (L). A plain prefix P matches
 * all of them when L starts with P. An assertion-free regex that matches L itself also matches
 * every string starting with L (its matching path reads only characters of L).
 */
function shadows(earlier: CompiledRule, later: CompiledRule): boolean {
  const l = later.literalPrefix;
  if (earlier.prefix !== undefined) return l.startsWith(earlier.prefix);
  if (!earlier.assertionFree) return false;
  try {
    return earlier.regex!.test(l);
  } catch (e) {
    if (e instanceof BoundedRegexError) return false; // gave up: not certain, so not reported
    throw e;
  }
}

/**
 * Rules never selected because an earlier rule always matches first. Conservative: a rule is
 * reported only when that is certain (see `shadows`); unreported rules may still be dead.
 */
export function unreachableRules(compiled: CompiledDialPlan): UnreachableRule[] {
  const out: UnreachableRule[] = [];
  for (const rules of [compiled.outgoing, compiled.incoming]) {
    rules.forEach((later, j) => {
      const earlier = rules.slice(0, j).find((e) => shadows(e, later));
      if (!earlier) return;
      const what =
        later.literalPrefix === ''
          ? `rule ${earlier.priority} (${earlier.pattern}) matches every number`
          : `every number it matches starts with ${later.literalPrefix}, which rule ${earlier.priority} (${earlier.pattern}) already matches`;
      out.push({
        rule: ref(later),
        shadowedBy: ref(earlier),
        message: `${later.direction} rule ${later.priority} (${later.pattern}) is never used: ${what}; give it a lower priority than ${earlier.priority} or remove it`,
      });
    });
  }
  return out;
}

/**
 * Numbers whose translation differs between two dial plans (null = no dial plan: nothing is
 * translated, every result is null). Only differing results are listed, in input order.
 */
export function behaviourDiff(
  before: CompiledDialPlan | null,
  after: CompiledDialPlan | null,
  numbers: readonly SampleNumber[],
): BehaviourChange[] {
  const out: BehaviourChange[] = [];
  for (const { number, direction } of numbers) {
    const b = before ? translate(before, number, direction) : undefined;
    const a = after ? translate(after, number, direction) : undefined;
    const br = b?.result ?? null;
    const ar = a?.result ?? null;
    if (br === ar) continue;
    out.push({
      number,
      direction,
      before: br,
      after: ar,
      ...(b?.rule ? { beforeRule: b.rule } : {}),
      ...(a?.rule ? { afterRule: a.rule } : {}),
      beforeReason: b?.reason ?? 'no dial plan',
      afterReason: a?.reason ?? 'no dial plan',
    });
  }
  return out;
}

/**
 * A built-in sample for `behaviourDiff`: internal numbers, national numbers in several
 * notations, the installation's own country in international notations (with +, with (0),
 * with the international prefix, without +), foreign numbers, # and * codes, and incoming
 * caller numbers as a PBX may present them. Built from the settings' prefixes.
 */
export function SAMPLE_NUMBERS(settings: Partial<DialPlanSettings> = {}): SampleNumber[] {
  const s = { ...DEFAULT_SETTINGS, ...settings };
  const ip = s.internationalPrefix;
  const cc = s.countryCode;
  const ext = s.externalPrefix;
  const len = Math.max(1, Math.min(s.internalLength, 12));
  const internal = '123456789012'.slice(0, len);
  const internalLikeCountry = (cc + '0123456789').slice(0, len);
  const out = (direction: SampleNumber['direction'], numbers: string[]) =>
    numbers.map((number) => ({ number, direction }));
  return [
    ...out('outgoing', [
      internal,
      internalLikeCountry,
      '112',
      '3611',
      '03611',
      '01 23 45 67 89',
      '06 12 34 56 78',
      '01.23.45.67.89',
      '01-23-45-67-89',
      `+${cc} 1 23 45 67 89`,
      `+${cc} (0) 1 23 45 67 89`,
      `+${cc}0123456789`,
      `${ip} ${cc} 1 23 45 67 89`,
      `${ip}${cc} (0)1 23 45 67 89`,
      `${cc} 1 55 17 18 89`,
      '+44 20 7946 0958',
      '+44 (0)20 7946 0958',
      '+1 212-555-0100',
      '+39 06 1234 5678',
      `${ip}49 30 1234567`,
      '+42(0)141906666',
      '#31#0123456789',
      '*21*0612345678#',
      '*8',
      'poste 12',
    ]),
    ...out('incoming', [
      internal,
      `${ext}0123456789`,
      '0123456789',
      `+${cc}123456789`,
      `${ext}${ip}442079460958`,
      `${ip}${cc}612345678`,
    ]),
  ];
}
