/**
 * translate: one number through a compiled dial plan (manual §5.2), plus the reverse-lookup
 * keys used to match incoming callers against directories.
 *
 * Outgoing, step by step (docs/dialplan.md has the truth table):
 *  1. cleaned = cleanUp(number); no digit → result null.
 *  2. dial = dialString(number) (parentheses kept); longer than MAX_NUMBER_LENGTH → null.
 *  3. The first rule (lowest priority) whose pattern matches the start of `dial` is selected.
 *  4. An internal number (digits only, at most internalLength digits) is sent unchanged, unless
 *     the selected rule matches the whole number (an explicit short-code rule such as 112).
 *  5. Selected rule: result = value + digits of the unmatched rest ($n groups, too, contribute
 *     their digits only). If the number started with
 *     "+", the external prefix is then added, unless the value starts with [-ExternalPrefix-],
 *     or the result is internal, or it does not start with a digit.
 *  6. No rule: a digits-only number longer than internalLength gets the external prefix;
 *     anything else (+…, #…, *…) is sent as cleaned.
 * Incoming: step 1, 2 and 4 as above; then incomingRemove is removed from the start if
 * present, incomingAdd is added, and the first matching incoming rule is applied. The external
 * prefix is never added to incoming numbers.
 * A rule whose regex has back-references may give up (BACKREF_STEP_BUDGET): the number is then
 * not translated (result null), and the reason names the rule and what to change. Choosing a later
 * rule instead would silently translate the number differently.
 */
import { cleanUp, dialString, digitsFrom, hasDigit, isAllDigits, MAX_NUMBER_LENGTH } from './cleanup.js';
import { BoundedRegexError } from './matcher.js';
import type {
  CompiledDialPlan,
  CompiledRule,
  Direction,
  Translation,
  TranslationStep,
} from './types.js';

/** Options of `translate`. */
export interface TranslateOptions {
  /** Record every step in `Translation.steps` (for "test these rules" and --explain). */
  readonly steps?: boolean;
}

interface RuleMatch {
  readonly rule: CompiledRule;
  /** Length of the matched part of the dial string. */
  readonly consumed: number;
  readonly replacement: string;
}

/** A rule whose regex gave up on the number (back-references over their step budget). */
interface RuleGaveUp {
  readonly rule: CompiledRule;
  readonly gaveUp: string;
}

function firstMatch(rules: readonly CompiledRule[], dial: string): RuleMatch | RuleGaveUp | undefined {
  for (const rule of rules) {
    if (rule.prefix !== undefined) {
      if (!dial.startsWith(rule.prefix)) continue;
      let replacement = '';
      for (const p of rule.template) if ('text' in p) replacement += p.text;
      return { rule, consumed: rule.prefix.length, replacement };
    }
    const regex = rule.regex!;
    let end: number;
    try {
      end = regex.matchEnd(dial); // anchored: the match starts at 0
    } catch (e) {
      if (e instanceof BoundedRegexError) return { rule, gaveUp: e.message };
      throw e;
    }
    if (end < 0) continue;
    let replacement = '';
    // text taken from the number contributes its digits only: + # * ( ) come from the value
    for (const p of rule.template) replacement += 'text' in p ? p.text : digitsFrom(regex.group(p.group) ?? '', 0);
    return { rule, consumed: end, replacement };
  }
  return undefined;
}

function gaveUp(input: string, direction: Direction, cleaned: string, g: RuleGaveUp, trace: Trace): Translation {
  const reason = `${g.rule.label} could not be evaluated, so the number is not translated: ${g.gaveUp}`;
  trace.add('rule-gave-up', '', reason);
  return done(input, direction, cleaned, null, reason, trace, g.rule);
}

const isInternal = (s: string, internalLength: number) => s.length <= internalLength && isAllDigits(s);

class Trace {
  readonly steps: TranslationStep[] | undefined;
  constructor(on: boolean) {
    this.steps = on ? [] : undefined;
  }
  add(step: TranslationStep['step'], number: string, detail: string): void {
    this.steps?.push({ step, number, detail });
  }
}

function done(
  input: string,
  direction: Direction,
  cleaned: string,
  result: string | null,
  reason: string,
  trace: Trace,
  rule?: CompiledRule,
  externalPrefixAdded = false,
): Translation {
  const t: { -readonly [K in keyof Translation]: Translation[K] } = { input, direction, cleaned, result, externalPrefixAdded, reason };
  if (rule) t.rule = rule.ref;
  if (trace.steps) t.steps = trace.steps;
  return t;
}

/** The clean-up of a dial string: the same with parentheses dropped (usually there are none). */
function cleanedFrom(dial: string): string {
  return dial.indexOf('(') < 0 && dial.indexOf(')') < 0 ? dial : dial.replace(/[()]/g, '');
}

/** Translates one number; never throws. See the file comment for the algorithm. */
export function translate(
  compiled: CompiledDialPlan,
  number: string,
  direction: Direction,
  options: TranslateOptions = {},
): Translation {
  const trace = new Trace(options.steps === true);
  const s = compiled.settings;
  const dial = dialString(number);
  const cleaned = cleanedFrom(dial);
  trace.add('clean-up', cleaned, 'standard clean-up: non-digits removed, except +, # or * in first position');
  if (!hasDigit(cleaned)) {
    const reason = `${JSON.stringify(number)} contains no digits, so there is nothing to dial`;
    trace.add('no-digits', '', reason);
    return done(number, direction, cleaned, null, reason, trace);
  }
  if (dial.length > MAX_NUMBER_LENGTH) {
    const reason = `the number is ${dial.length} characters long, over the limit of ${MAX_NUMBER_LENGTH}`;
    trace.add('too-long', '', reason);
    return done(number, direction, cleaned, null, reason, trace);
  }
  const rules = direction === 'outgoing' ? compiled.outgoing : compiled.incoming;

  if (isInternal(cleaned, s.internalLength)) {
    const match = firstMatch(rules, dial);
    if (match && 'gaveUp' in match) return gaveUp(number, direction, cleaned, match, trace);
    if (match && match.consumed === dial.length) {
      const result = match.replacement;
      const reason = `${match.rule.label} matched the whole internal number ${cleaned}, giving ${result || '(nothing)'}`;
      trace.add('rule', result, reason);
      if (!hasDigit(result)) return done(number, direction, cleaned, null, `${reason}, which has no digits`, trace, match.rule);
      return done(number, direction, cleaned, result, reason, trace, match.rule);
    }
    const skipped = match ? `; ${match.rule.label} matches only its start, so it is not applied` : '';
    const reason = `${cleaned} is an internal number (at most ${s.internalLength} digits): sent unchanged${skipped}`;
    if (match) trace.add('rule-skipped', cleaned, `${match.rule.label} matches only the start of an internal number`);
    trace.add('internal', cleaned, reason);
    return done(number, direction, cleaned, cleaned, reason, trace);
  }

  if (direction === 'incoming') return translateIncoming(compiled, number, cleaned, dial, trace);

  const match = firstMatch(rules, dial);
  if (match && 'gaveUp' in match) return gaveUp(number, direction, cleaned, match, trace);
  if (!match) {
    if (isAllDigits(cleaned)) {
      const result = s.externalPrefix + cleaned;
      const reason = s.externalPrefix
        ? `no rule matched; the number is longer than the internal length (${s.internalLength}), so the external prefix ${s.externalPrefix} is added`
        : `no rule matched; the number is longer than the internal length (${s.internalLength}), and the external prefix is empty`;
      trace.add('no-rule', cleaned, 'no rule matched');
      if (s.externalPrefix) trace.add('external-prefix', result, `external prefix ${s.externalPrefix} added`);
      return done(number, direction, cleaned, result, reason, trace, undefined, s.externalPrefix !== '');
    }
    const reason =
      cleaned[0] === '+'
        ? `no rule matched and the number starts with "+": it is sent as is, which most PBXs cannot dial (add a rule for "+")`
        : `no rule matched; the number starts with "${cleaned[0]}", so it is sent as is without the external prefix`;
    trace.add('no-rule', cleaned, reason);
    return done(number, direction, cleaned, cleaned, reason, trace);
  }

  const rest = digitsFrom(dial, match.consumed);
  let result = match.replacement + rest;
  const matched = dial.slice(0, match.consumed);
  let reason = `${match.rule.label} matched ${matched || '(empty start)'} and replaced it with ${match.replacement || '(nothing)'}`;
  trace.add('rule', result, reason);
  if (!hasDigit(result)) {
    return done(number, direction, cleaned, null, `${reason}, which leaves no digits`, trace, match.rule);
  }
  let added = false;
  if (cleaned[0] !== '+') {
    reason += '; the number does not start with "+", so only the rule is applied';
  } else if (match.rule.valueHasExternalPrefix) {
    reason += '; the value already starts with [-ExternalPrefix-], so no external prefix is added';
  } else if (isInternal(result, s.internalLength)) {
    reason += '; the result is an internal number, so no external prefix is added';
  } else if (!isAllDigits(result[0]!)) {
    reason += `; the result starts with "${result[0]}", so no external prefix is added`;
  } else if (s.externalPrefix === '') {
    reason += '; the external prefix is empty';
  } else {
    result = s.externalPrefix + result;
    added = true;
    reason += `; the number started with "+", so the external prefix ${s.externalPrefix} is added`;
    trace.add('external-prefix', result, `external prefix ${s.externalPrefix} added`);
  }
  return done(number, direction, cleaned, result, reason, trace, match.rule, added);
}

function translateIncoming(compiled: CompiledDialPlan, number: string, cleaned: string, dial: string, trace: Trace): Translation {
  const s = compiled.settings;
  const did: string[] = [];
  if (s.incomingRemove && dial.startsWith(s.incomingRemove)) {
    dial = dial.slice(s.incomingRemove.length);
    did.push(`removed ${s.incomingRemove}`);
    trace.add('incoming-remove', cleanUp(dial), `removed ${s.incomingRemove} from the start`);
  }
  if (s.incomingAdd) {
    dial = dialString(s.incomingAdd + dial);
    did.push(`added ${s.incomingAdd}`);
    trace.add('incoming-add', cleanUp(dial), `added ${s.incomingAdd} at the start`);
  }
  const prepared = cleanUp(dial);
  const before = did.length ? `${did.join(', ')}, then ` : '';
  const match = firstMatch(compiled.incoming, dial);
  if (match && 'gaveUp' in match) return gaveUp(number, 'incoming', cleaned, match, trace);
  if (!match) {
    const reason = `${before}no incoming rule matched; incoming numbers never get the external prefix`;
    trace.add('no-rule', prepared, 'no incoming rule matched');
    if (!hasDigit(prepared)) return done(number, 'incoming', cleaned, null, `${reason}; no digits are left`, trace);
    return done(number, 'incoming', cleaned, prepared, reason, trace);
  }
  const rest = digitsFrom(dial, match.consumed);
  const result = match.replacement + rest;
  const reason = `${before}${match.rule.label} matched ${dial.slice(0, match.consumed) || '(empty start)'} and replaced it with ${match.replacement || '(nothing)'}`;
  trace.add('rule', result, reason);
  if (!hasDigit(result)) return done(number, 'incoming', cleaned, null, `${reason}, which leaves no digits`, trace, match.rule);
  return done(number, 'incoming', cleaned, result, reason, trace, match.rule);
}

function trailingDigits(number: string, length: number): string | null {
  const digits = digitsFrom(number, 0);
  if (digits === '') return null;
  return length > 0 && digits.length > length ? digits.slice(-length) : digits;
}

/**
 * The key an incoming caller is looked up by: the incoming translation, then its last
 * `inverseLength` digits (all digits when inverseLength is 0 or the number is shorter).
 * Null when the number cannot be translated.
 */
export function lookupKey(compiled: CompiledDialPlan, callerNumber: string): string | null {
  const t = translate(compiled, callerNumber, 'incoming');
  return t.result === null ? null : trailingDigits(t.result, compiled.settings.inverseLength);
}

/**
 * The key a number stored in a directory is indexed by, to meet `lookupKey`: the last
 * `inverseLength` digits of its clean-up (no rules: directory numbers are written for people).
 */
export function directoryKey(compiled: CompiledDialPlan, storedNumber: string): string | null {
  return trailingDigits(cleanUp(storedNumber), compiled.settings.inverseLength);
}
