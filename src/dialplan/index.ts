/**
 * The dial-plan engine (manual §5): pure functions, no I/O. See docs/dialplan.md.
 *
 *   const resolved = resolveDialPlan(input, domainDefaults);
 *   const compiled = compileDialPlan(resolved);          // or DialPlanProblem[]
 *   if (isCompiled(compiled)) translate(compiled, '+33 (0) 1 23 45 67 89', 'outgoing').result
 *
 * Any other user pattern (e.g. a directory field expression's REGEX) goes through the same
 * bounded matcher: `compileBoundedRegex(source).test(value)`; see matcher.ts.
 */
export type * from './types.js';
export { cleanUp, dialString, MAX_NUMBER_LENGTH } from './cleanup.js';
export { DEFAULT_SETTINGS, FR_PRESET } from './preset.js';
export { resolveDialPlan } from './resolve.js';
export { compileDialPlan, isCompiled, isRegexPattern, PLACEHOLDERS } from './compile.js';
export { translate, lookupKey, directoryKey, type TranslateOptions } from './translate.js';
export { unreachableRules, behaviourDiff, SAMPLE_NUMBERS } from './analysis.js';
export {
  compileBoundedRegex,
  BoundedRegexError,
  type BoundedRegex,
  MAX_PROGRAM_SIZE,
  BACKREF_STEP_BUDGET,
  MAX_VISITED_BITS,
  type BoundedMatch,
  type BoundedRegexErrorCode,
  type BoundedRegexOptions,
  type StepCounter,
} from './matcher.js';
export { MAX_NESTING } from './regex.js';
