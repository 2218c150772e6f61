/**
 * Types of the dial-plan engine (manual §5).
 *
 * Three stages, each with its own type:
 *   DialPlanInput ──resolveDialPlan──▶ ResolvedDialPlan ──compileDialPlan──▶ CompiledDialPlan ──translate──▶ Translation
 * `DialPlanInput` mirrors the DialPlan YAML resource. `ResolvedDialPlan` is a plain JSON value
 * (safe to diff, store, print). `CompiledDialPlan` holds compiled regular expressions
 * (`BoundedRegex`): it is an in-memory engine value only, never put it into a plan or serialize it.
 */
import type { BoundedRegex } from './matcher.js';

/** Which list a rule belongs to: numbers dialled out, or caller numbers received. */
export type Direction = 'outgoing' | 'incoming';

/**
 * One translation rule as written by the administrator.
 * `pattern` is either a plain prefix (`+33`, `[-InternationalPrefix-]33`) or a regular expression
 * written between square brackets (`[(\+|00)33\(0\)]`), always matched at the start of the number.
 * `value` replaces the matched part; it may use placeholders and, for regex patterns, `$n`.
 */
export interface DialPlanRule {
  priority: number;
  name?: string;
  pattern: string;
  value: string;
}

/** Drops the preset rule with this priority (only meaningful together with `preset`). */
export interface DialPlanRuleRemoval {
  priority: number;
  remove: true;
}

/** An entry of the `outgoing` / `incoming` lists of the YAML resource. */
export type DialPlanRuleEntry = DialPlanRule | DialPlanRuleRemoval;

/**
 * The global settings of a dial plan (left-hand side of the manual's screen).
 * Prefixes are strings of digits: `"00"` and `0` are different, so YAML must quote them.
 */
export interface DialPlanSettings {
  /** Prefix for international calls, e.g. "00". Placeholder `[-InternationalPrefix-]`. */
  internationalPrefix: string;
  /** Country code of the installation, e.g. "33". Placeholder `[-CountryCode-]`. */
  countryCode: string;
  /** Prefix to reach the public network, e.g. "0" (may be empty). Placeholder `[-ExternalPrefix-]`. */
  externalPrefix: string;
  /** Maximum length of an internal number (extension), e.g. 4. */
  internalLength: number;
  /** How many trailing digits identify an incoming caller in the directories, e.g. 9 (0 = all). */
  inverseLength: number;
  /** Added at the start of incoming caller numbers (after `incomingRemove`). */
  incomingAdd: string;
  /** Removed from the start of incoming caller numbers when present. */
  incomingRemove: string;
}

/** The DialPlan resource as read from YAML: settings may be left to the domain's defaults. */
export interface DialPlanInput extends Partial<DialPlanSettings> {
  /** Start from the manual's French rule table (`FR_PRESET`); absent means no preset rules. */
  preset?: 'fr';
  outgoing?: DialPlanRuleEntry[];
  incoming?: DialPlanRuleEntry[];
}

/** Where a rule comes from: the preset, or the resource's own list (with its position there). */
export type RuleSource = 'preset' | 'input';

/**
 * A rule after preset and overrides are applied. `index` is the position of the rule in the
 * resource's `outgoing`/`incoming` list (absent for preset rules), so diagnostics can point at
 * the YAML node.
 */
export interface ResolvedRule {
  readonly priority: number;
  readonly name?: string;
  readonly pattern: string;
  readonly value: string;
  readonly direction: Direction;
  readonly source: RuleSource;
  readonly index?: number;
}

/**
 * A dial plan with every setting filled and the rule lists final and sorted by priority.
 * A plain JSON value. `problems` are those found while resolving (bad settings, duplicate
 * priorities, removals that remove nothing); `compileDialPlan` reports them again.
 */
export interface ResolvedDialPlan {
  readonly settings: Readonly<DialPlanSettings>;
  readonly preset?: 'fr';
  readonly outgoing: readonly ResolvedRule[];
  readonly incoming: readonly ResolvedRule[];
  readonly problems: readonly DialPlanProblem[];
}

/** Stable codes of dial-plan diagnostics (documented in docs/dialplan.md). */
export type DialPlanProblemCode =
  | 'setting-invalid'
  | 'rule-invalid'
  | 'priority-invalid'
  | 'priority-duplicate'
  | 'remove-nothing'
  | 'preset-country-mismatch'
  | 'pattern-empty'
  | 'pattern-invalid-char'
  | 'placeholder-unknown'
  | 'value-invalid-char'
  | 'value-group-missing'
  | 'value-unsupported'
  | 'regex-invalid'
  | 'regex-unsupported'
  | 'regex-too-large'
  | 'regex-group-numbering'
  | 'rule-unreachable';

/**
 * A diagnostic about a dial plan. `path` is the JSON path inside the DialPlan resource
 * (e.g. `['outgoing', 2, 'pattern']`, `['countryCode']`); for a preset rule it is
 * `['preset']` and `priority` says which rule. Errors make `compileDialPlan` fail; warnings
 * are carried in `CompiledDialPlan.warnings`.
 */
export interface DialPlanProblem {
  readonly severity: 'error' | 'warning';
  readonly code: DialPlanProblemCode;
  readonly message: string;
  readonly path: readonly (string | number)[];
  readonly direction?: Direction;
  readonly index?: number;
  readonly priority?: number;
  readonly source?: RuleSource;
}

/** A piece of a compiled value: literal text (placeholders already substituted) or a group. */
export type ValuePart = { readonly text: string } | { readonly group: number };

/**
 * A rule ready to run. Plain patterns become a literal `prefix`; regex patterns an anchored
 * bounded `regex` (matched at the start of the number only). `literalPrefix` is a string every match starts with ('' when unknown) and
 * `assertionFree` says the regex has no lookaround, `$`, `\b` or `\B`: both feed
 * `unreachableRules`.
 */
export interface CompiledRule {
  readonly priority: number;
  readonly name?: string;
  readonly direction: Direction;
  readonly source: RuleSource;
  readonly index?: number;
  /** As written. */
  readonly pattern: string;
  /** As written. */
  readonly value: string;
  readonly kind: 'prefix' | 'regex';
  readonly prefix?: string;
  readonly regex?: BoundedRegex;
  readonly template: readonly ValuePart[];
  /** The value starts with `[-ExternalPrefix-]`: the external prefix is never added again. */
  readonly valueHasExternalPrefix: boolean;
  readonly literalPrefix: string;
  readonly assertionFree: boolean;
  /** "rule 40 "name" (pattern +)", for reasons. */
  readonly label: string;
  /** Shared, frozen reference put into every Translation this rule produces. */
  readonly ref: TranslationRuleRef;
}

/** A compiled dial plan: in-memory only (holds BoundedRegex objects); do not serialize. */
export interface CompiledDialPlan {
  readonly settings: Readonly<DialPlanSettings>;
  readonly outgoing: readonly CompiledRule[];
  readonly incoming: readonly CompiledRule[];
  readonly warnings: readonly DialPlanProblem[];
}

/** Identifies the rule that translated a number. */
export interface TranslationRuleRef {
  readonly priority: number;
  readonly name?: string;
  readonly direction: Direction;
  readonly source: RuleSource;
  readonly index?: number;
}

/** One step of a translation, for the "test these rules" box and `--explain` output. */
export interface TranslationStep {
  readonly step:
    | 'clean-up'
    | 'too-long'
    | 'no-digits'
    | 'internal'
    | 'incoming-remove'
    | 'incoming-add'
    | 'rule'
    | 'rule-skipped'
    | 'rule-gave-up'
    | 'no-rule'
    | 'external-prefix';
  /** The number after this step. */
  readonly number: string;
  readonly detail: string;
}

/**
 * The outcome of translating one number. `result` is null when the number cannot be
 * translated (no digits, longer than `MAX_NUMBER_LENGTH`, a rule left no digits, or a rule
 * with back-references gave up: `BACKREF_STEP_BUDGET`).
 * `reason` is one human sentence; `steps` is present when asked for.
 */
export interface Translation {
  readonly input: string;
  readonly direction: Direction;
  /** The standard clean-up (§5.1) of the input. */
  readonly cleaned: string;
  readonly result: string | null;
  readonly rule?: TranslationRuleRef;
  readonly externalPrefixAdded: boolean;
  readonly reason: string;
  readonly steps?: readonly TranslationStep[];
}

/** A number with the direction it is translated in. */
export interface SampleNumber {
  readonly number: string;
  readonly direction: Direction;
}

/** A sample number whose translation differs between two dial plans. */
export interface BehaviourChange {
  readonly number: string;
  readonly direction: Direction;
  readonly before: string | null;
  readonly after: string | null;
  readonly beforeRule?: TranslationRuleRef;
  readonly afterRule?: TranslationRuleRef;
  readonly beforeReason: string;
  readonly afterReason: string;
}

/** A rule that can never be selected because an earlier rule always matches first. */
export interface UnreachableRule {
  readonly rule: TranslationRuleRef & { readonly pattern: string };
  readonly shadowedBy: TranslationRuleRef & { readonly pattern: string };
  readonly message: string;
}
