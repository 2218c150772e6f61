/**
 * The French default rule table (manual §5, screen "Plan de numérotation", and §5.1–5.3).
 *
 * The manual's screenshot truncates the patterns and values (`[(\+)[-InternationalPref…`,
 * `[-External…`); this table is reconstructed from the visible parts, the standard rules of
 * §5.1, the worked examples, and the one regex the manual prints in full (rule 30). The
 * country code is written literally (`33`) as in the manual's plain rules 5, 15 and 25; using
 * the preset with another `countryCode` produces the warning `preset-country-mismatch`.
 */
import type { DialPlanRule, DialPlanSettings } from './types.js';

/**
 * Settings used when neither the resource nor its domain gives a value: the values shown on
 * the manual's screen (§5), except `incomingRemove`, which the screen shows as "0" but which
 * depends on how the PBX presents callers, so it defaults to nothing.
 */
export const DEFAULT_SETTINGS: Readonly<DialPlanSettings> = Object.freeze({
  internationalPrefix: '00',
  countryCode: '33',
  externalPrefix: '0',
  internalLength: 4,
  inverseLength: 9,
  incomingAdd: '',
  incomingRemove: '',
});

/** The manual's default French outgoing rules. Frozen: copy before changing. */
export const FR_PRESET: readonly Readonly<DialPlanRule>[] = Object.freeze([
  {
    priority: 5,
    name: 'France, +33 followed by the trunk 0',
    pattern: '+330',
    value: '[-ExternalPrefix-]0',
  },
  {
    priority: 10,
    name: 'France, +33 (0) or 0033 (0)',
    pattern: '[(\\+|[-InternationalPrefix-])33\\(0\\)]',
    value: '[-ExternalPrefix-]0',
  },
  {
    priority: 15,
    name: 'France, +33',
    pattern: '+33',
    value: '[-ExternalPrefix-]0',
  },
  {
    priority: 20,
    name: 'France, 0033 with or without the trunk 0',
    pattern: '[(\\+|[-InternationalPrefix-])330?]',
    value: '[-ExternalPrefix-]0',
  },
  {
    priority: 25,
    name: 'France, 33 without + (international form missing its +)',
    pattern: '33',
    value: '[-ExternalPrefix-]0',
  },
  {
    priority: 30,
    name: 'International with a trunk prefix in parentheses, e.g. +42 (0)',
    pattern: '[(\\+|[-InternationalPrefix-])?([^\\(]+)\\([^\\)]+\\)]',
    value: '[-ExternalPrefix-][-InternationalPrefix-]$2',
  },
  {
    priority: 40,
    name: 'International, +',
    pattern: '+',
    value: '[-ExternalPrefix-][-InternationalPrefix-]',
  },
  { priority: 50, name: 'Codes starting with #', pattern: '#', value: '#' },
  { priority: 60, name: 'Codes starting with *', pattern: '*', value: '*' },
].map((r) => Object.freeze(r)));
