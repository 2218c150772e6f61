/**
 * compileDialPlan: each rule compiled once (placeholders substituted, regex checked and
 * compiled for the bounded matcher, value split into literal text and group references) so that
 * `translate` only does prefix tests, bounded regex matches and string concatenation.
 */
import { dialString } from './cleanup.js';
import { BoundedRegexError, compileBoundedRegex, type BoundedRegex } from './matcher.js';
import { isAssertionFree, literalPrefix, type ParsedRegex } from './regex.js';
import { unreachableRules } from './analysis.js';
import type {
  CompiledDialPlan,
  CompiledRule,
  DialPlanProblem,
  DialPlanProblemCode,
  DialPlanSettings,
  ResolvedDialPlan,
  ResolvedRule,
  TranslationRuleRef,
  ValuePart,
} from './types.js';

/** Placeholder name → setting. Names are case-sensitive, as in the manual. */
export const PLACEHOLDERS = {
  InternationalPrefix: 'internationalPrefix',
  ExternalPrefix: 'externalPrefix',
  CountryCode: 'countryCode',
} as const satisfies Record<string, keyof DialPlanSettings>;

const PLACEHOLDER_TOKEN = /\[-([A-Za-z]+)-\]/g;
const EXTERNAL_PREFIX_TOKEN = '[-ExternalPrefix-]';

class RuleProblems {
  readonly list: DialPlanProblem[] = [];
  constructor(private readonly rule: ResolvedRule) {}
  add(code: DialPlanProblemCode, field: 'pattern' | 'value', message: string): void {
    const r = this.rule;
    const where = r.source === 'preset' ? `preset rule ${r.priority}` : `${r.direction}[${r.index}] (priority ${r.priority})`;
    this.list.push({
      severity: 'error',
      code,
      message: `${where}, ${field} "${field === 'pattern' ? r.pattern : r.value}": ${message}`,
      path: r.source === 'preset' ? ['preset'] : [r.direction, r.index ?? 0, field],
      direction: r.direction,
      ...(r.index !== undefined ? { index: r.index } : {}),
      priority: r.priority,
      source: r.source,
    });
  }
}

function placeholderValue(
  name: string,
  settings: Readonly<DialPlanSettings>,
  problems: RuleProblems,
  field: 'pattern' | 'value',
): string | undefined {
  const key = (PLACEHOLDERS as Record<string, keyof DialPlanSettings>)[name];
  if (key) return String(settings[key]);
  const near = Object.keys(PLACEHOLDERS).find((k) => k.toLowerCase() === name.toLowerCase());
  const hint = near
    ? `did you mean [-${near}-]? (names are case-sensitive)`
    : `use [-InternationalPrefix-], [-ExternalPrefix-] or [-CountryCode-]`;
  problems.add('placeholder-unknown', field, `unknown placeholder [-${name}-]; ${hint}`);
  return undefined;
}

function substitute(
  text: string,
  settings: Readonly<DialPlanSettings>,
  problems: RuleProblems,
  field: 'pattern' | 'value',
  escape: (s: string) => string,
): string | undefined {
  let ok = true;
  const out = text.replace(PLACEHOLDER_TOKEN, (_, name: string) => {
    const v = placeholderValue(name, settings, problems, field);
    if (v === undefined) ok = false;
    return escape(v ?? '');
  });
  return ok ? out : undefined;
}

const escapeRegex = (s: string) => s.replace(/[\\^$.*+?()[\]{}|\/-]/g, '\\$&');

/** A pattern is a regex when it is written between brackets that are not placeholders. */
export function isRegexPattern(pattern: string): boolean {
  const withoutPlaceholders = pattern.replace(PLACEHOLDER_TOKEN, '');
  return (
    /[[\]]/.test(withoutPlaceholders) && pattern.startsWith('[') && pattern.endsWith(']') && pattern.length >= 2
  );
}

const PLAIN_ALLOWED = /^[+#*]?[0-9() .\-\/]*$/;

interface CompiledPattern {
  kind: 'prefix' | 'regex';
  prefix?: string;
  regex?: BoundedRegex;
  parsed?: ParsedRegex;
  literalPrefix: string;
  assertionFree: boolean;
}

function compilePattern(rule: ResolvedRule, settings: Readonly<DialPlanSettings>, problems: RuleProblems): CompiledPattern | undefined {
  const pattern = rule.pattern;
  if (pattern.trim() === '') {
    problems.add('pattern-empty', 'pattern', 'the pattern is empty; a rule needs something to match');
    return undefined;
  }
  if (!isRegexPattern(pattern)) {
    const text = substitute(pattern, settings, problems, 'pattern', (s) => s);
    if (text === undefined) return undefined;
    if (!PLAIN_ALLOWED.test(text.trim())) {
      const hint =
        pattern.startsWith('[') && !pattern.endsWith(']')
          ? 'a regular expression must end with "]"'
          : 'a plain pattern is a prefix of digits, optionally starting with +, # or * (spaces, dots, dashes and slashes are ignored); write a regular expression between square brackets, e.g. [0[1-5]]';
      problems.add('pattern-invalid-char', 'pattern', hint);
      return undefined;
    }
    const prefix = dialString(text);
    if (prefix === '') {
      problems.add('pattern-empty', 'pattern', 'the pattern is empty once placeholders are substituted (is a prefix setting empty?)');
      return undefined;
    }
    return { kind: 'prefix', prefix, literalPrefix: prefix, assertionFree: true };
  }

  const source = substitute(pattern.slice(1, -1), settings, problems, 'pattern', escapeRegex);
  if (source === undefined) return undefined;
  if (source === '') {
    problems.add('pattern-empty', 'pattern', 'the regular expression between the brackets is empty');
    return undefined;
  }
  let regex: BoundedRegex;
  try {
    // anchored: a rule matches at the start of the number, as `^(?:pattern)` would
    regex = compileBoundedRegex(source, { anchored: true });
  } catch (e) {
    if (!(e instanceof BoundedRegexError)) throw e;
    const code = e.code === 'regex-invalid' || e.code === 'regex-too-large' ? e.code : 'regex-unsupported';
    problems.add(code, 'pattern', e.message);
    return undefined;
  }
  const parsed = regex.parsed;
  return {
    kind: 'regex',
    regex,
    parsed,
    literalPrefix: literalPrefix(parsed),
    assertionFree: isAssertionFree(parsed),
  };
}

const VALUE_CHAR = /[0-9+#*]/;

function compileValue(
  rule: ResolvedRule,
  settings: Readonly<DialPlanSettings>,
  pattern: CompiledPattern,
  problems: RuleProblems,
): ValuePart[] | undefined {
  const v = rule.value;
  const parts: ValuePart[] = [];
  let text = '';
  let ok = true;
  let usesGroups = false;
  const flush = () => {
    if (text) parts.push({ text });
    text = '';
  };
  const groups = pattern.parsed?.captureCount ?? 0;
  for (let i = 0; i < v.length; ) {
    if (v.startsWith('[-', i)) {
      const m = /^\[-([A-Za-z]+)-\]/.exec(v.slice(i));
      if (m) {
        const sub = placeholderValue(m[1]!, settings, problems, 'value');
        if (sub === undefined) ok = false;
        text += sub ?? '';
        i += m[0].length;
        continue;
      }
    }
    const c = v[i]!;
    if (c !== '$') {
      if (!VALUE_CHAR.test(c)) {
        problems.add(
          'value-invalid-char',
          'value',
          `${JSON.stringify(c)} cannot be dialled: a value may contain digits, +, #, *, placeholders${pattern.kind === 'regex' ? ' and $n group references' : ''}`,
        );
        return undefined;
      }
      text += c;
      i++;
      continue;
    }
    // a $ substitution
    if (pattern.kind !== 'regex') {
      problems.add('value-invalid-char', 'value', '"$" references only work when the pattern is a regular expression ([...])');
      return undefined;
    }
    const rest = v.slice(i + 1);
    let group: number | undefined;
    let length = 0;
    const braced = /^\{([^}]*)\}/.exec(rest);
    if (braced) {
      if (!/^[0-9]+$/.test(braced[1]!)) {
        problems.add('value-unsupported', 'value', `"\${${braced[1]}}" (a .NET named reference) is not supported; refer to the group by its number, e.g. $2`);
        return undefined;
      }
      group = Number(braced[1]);
      length = 1 + braced[0].length;
      if (group > groups) {
        problems.add('value-group-missing', 'value', `"\${${braced[1]}}" refers to group ${group}, but the pattern has ${groups} group${groups === 1 ? '' : 's'}`);
        return undefined;
      }
    } else if (/^[0-9]/.test(rest)) {
      // like .NET: the longest run of (up to two) digits naming an existing group
      const two = /^[0-9]{2}/.test(rest) ? Number(rest.slice(0, 2)) : undefined;
      if (two !== undefined && two <= groups && rest[0] !== '0') {
        group = two;
        length = 3;
      } else {
        group = Number(rest[0]);
        length = 2;
        if (group > groups) {
          problems.add('value-group-missing', 'value', `"$${rest[0]}" refers to group ${group}, but the pattern has ${groups} group${groups === 1 ? '' : 's'}`);
          return undefined;
        }
      }
    } else if (rest[0] === '&') {
      group = 0;
      length = 2;
    } else {
      const what = rest[0] === undefined ? 'a lone "$"' : `"$${rest[0]}"`;
      problems.add('value-unsupported', 'value', `${what} is not supported; use $1…$99, \${n} or $0 (the whole match)`);
      return undefined;
    }
    if (group > 0) usesGroups = true;
    flush();
    parts.push({ group });
    i += length;
  }
  flush();
  if (!ok) return undefined;
  const parsed = pattern.parsed;
  if (usesGroups && parsed && parsed.namedCount > 0 && parsed.unnamedCount > 0) {
    problems.add(
      'regex-group-numbering',
      'value',
      'the pattern mixes named and unnamed groups and the value uses $n: .NET numbers named groups after the unnamed ones, JavaScript in order of appearance, so $n would pick another group; make the groups all unnamed (or non-capturing "(?:…)")',
    );
    return undefined;
  }
  return parts;
}

function compileRule(rule: ResolvedRule, settings: Readonly<DialPlanSettings>, problems: RuleProblems): CompiledRule | undefined {
  const pattern = compilePattern(rule, settings, problems);
  if (!pattern) return undefined;
  const template = compileValue(rule, settings, pattern, problems);
  if (!template) return undefined;
  const ref: TranslationRuleRef = Object.freeze({
    priority: rule.priority,
    ...(rule.name !== undefined ? { name: rule.name } : {}),
    direction: rule.direction,
    source: rule.source,
    ...(rule.index !== undefined ? { index: rule.index } : {}),
  });
  return {
    ...ref,
    pattern: rule.pattern,
    value: rule.value,
    kind: pattern.kind,
    ...(pattern.prefix !== undefined ? { prefix: pattern.prefix } : {}),
    ...(pattern.regex !== undefined ? { regex: pattern.regex } : {}),
    template,
    valueHasExternalPrefix: rule.value.startsWith(EXTERNAL_PREFIX_TOKEN),
    literalPrefix: pattern.literalPrefix,
    assertionFree: pattern.assertionFree,
    label: `rule ${rule.priority}${rule.name ? ` "${rule.name}"` : ''} (pattern ${rule.pattern})`,
    ref,
  };
}

/**
 * Compiles a resolved dial plan. Returns every problem (errors and warnings, in order) when
 * at least one is an error; otherwise the compiled plan, whose `warnings` hold the resolution
 * warnings and one `rule-unreachable` warning per rule that can never be selected.
 */
export function compileDialPlan(resolved: ResolvedDialPlan): CompiledDialPlan | DialPlanProblem[] {
  const problems: DialPlanProblem[] = [...resolved.problems];
  const compileList = (rules: readonly ResolvedRule[]) =>
    rules.flatMap((r) => {
      const p = new RuleProblems(r);
      const c = compileRule(r, resolved.settings, p);
      problems.push(...p.list);
      return c ? [c] : [];
    });
  const outgoing = compileList(resolved.outgoing);
  const incoming = compileList(resolved.incoming);
  if (problems.some((p) => p.severity === 'error')) return problems;
  const compiled: CompiledDialPlan = { settings: resolved.settings, outgoing, incoming, warnings: problems };
  const unreachable = unreachableRules(compiled).map((u): DialPlanProblem => ({
    severity: 'warning',
    code: 'rule-unreachable',
    message: u.message,
    path: u.rule.source === 'preset' ? ['preset'] : [u.rule.direction, u.rule.index ?? 0],
    direction: u.rule.direction,
    ...(u.rule.index !== undefined ? { index: u.rule.index } : {}),
    priority: u.rule.priority,
    source: u.rule.source,
  }));
  return { ...compiled, warnings: [...problems, ...unreachable] };
}

/** Narrows the result of compileDialPlan. */
export function isCompiled(x: CompiledDialPlan | readonly DialPlanProblem[]): x is CompiledDialPlan {
  return !Array.isArray(x);
}
