/**
 * The dial-plan engine (manual §5): pure functions, no I/O. See docs/dialplan.md.
 *
 *   const resolved = resolveDialPlan(input, domainDefaults);
 *   const compiled = compileDialPlan(resolved);          // or DialPlanProblem[]
 *   if (isCompiled(compiled)) translate(compiled, '+33 (0) 1 23 45 67 89', 'outgoing').result
 */
export type * from './types.js';
export { cleanUp, dialString, MAX_NUMBER_LENGTH } from './cleanup.js';
export { DEFAULT_SETTINGS, FR_PRESET } from './preset.js';
export { resolveDialPlan } from './resolve.js';
export { compileDialPlan, isCompiled, isRegexPattern, PLACEHOLDERS } from './compile.js';
export { translate, lookupKey, directoryKey, type TranslateOptions } from './translate.js';
export { unreachableRules, behaviourDiff, SAMPLE_NUMBERS } from './analysis.js';
export { MAX_OVERLAPPING_REPETITIONS } from './regex.js';
