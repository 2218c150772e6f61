/**
 * resolveDialPlan: settings filled (resource > domain defaults > DEFAULT_SETTINGS), preset
 * applied, rule-by-rule overrides and removals applied, lists sorted by priority.
 * Never throws: anything wrong becomes a DialPlanProblem in `problems`.
 */
import { DEFAULT_SETTINGS, FR_PRESET } from './preset.js';
import type {
  DialPlanInput,
  DialPlanProblem,
  DialPlanRuleEntry,
  DialPlanSettings,
  Direction,
  ResolvedDialPlan,
  ResolvedRule,
} from './types.js';

const STRING_SETTINGS = [
  'internationalPrefix',
  'countryCode',
  'externalPrefix',
  'incomingAdd',
  'incomingRemove',
] as const;
const LENGTH_SETTINGS = ['internalLength', 'inverseLength'] as const;

/** Digits only, except the incoming add/remove strings, which may start with + # or *. */
const SETTING_SHAPE: Record<(typeof STRING_SETTINGS)[number], RegExp> = {
  internationalPrefix: /^[0-9]*$/,
  countryCode: /^[0-9]*$/,
  externalPrefix: /^[0-9]*$/,
  incomingAdd: /^[+#*]?[0-9]*$/,
  incomingRemove: /^[+#*]?[0-9]*$/,
};

function pick<K extends keyof DialPlanSettings>(
  key: K,
  input: Partial<DialPlanSettings>,
  domain: Partial<DialPlanSettings>,
): { value: unknown; from: 'input' | 'domain' | 'default' } {
  if (input[key] !== undefined && input[key] !== null) return { value: input[key], from: 'input' };
  if (domain[key] !== undefined && domain[key] !== null) return { value: domain[key], from: 'domain' };
  return { value: DEFAULT_SETTINGS[key], from: 'default' };
}

function settingProblem(key: string, from: 'input' | 'domain' | 'default', message: string): DialPlanProblem {
  const where = from === 'domain' ? ` (inherited from the domain)` : '';
  return { severity: 'error', code: 'setting-invalid', message: `${key}${where}: ${message}`, path: [key] };
}

function resolveSettings(
  input: Partial<DialPlanSettings>,
  domain: Partial<DialPlanSettings>,
  problems: DialPlanProblem[],
): DialPlanSettings {
  const out: Record<string, unknown> = {};
  for (const key of STRING_SETTINGS) {
    const { value, from } = pick(key, input, domain);
    if (typeof value === 'number') {
      problems.push(
        settingProblem(
          key,
          from,
          `must be a string of digits; write it in quotes ("${String(value)}"), because YAML reads 00 as the number 0`,
        ),
      );
      out[key] = String(value);
    } else if (typeof value !== 'string') {
      problems.push(settingProblem(key, from, `must be a string of digits, got ${typeof value}`));
      out[key] = DEFAULT_SETTINGS[key];
    } else {
      if (!SETTING_SHAPE[key].test(value)) {
        const allowed = key.startsWith('incoming') ? 'digits, optionally after one leading +, # or *' : 'digits only';
        problems.push(settingProblem(key, from, `"${value}" is not valid: use ${allowed}`));
      }
      out[key] = value;
    }
  }
  for (const key of LENGTH_SETTINGS) {
    const { value, from } = pick(key, input, domain);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 64) {
      problems.push(settingProblem(key, from, `must be a whole number between 0 and 64, got ${JSON.stringify(value)}`));
      out[key] = DEFAULT_SETTINGS[key];
    } else {
      out[key] = value;
    }
  }
  return out as unknown as DialPlanSettings;
}

function isRemoval(e: DialPlanRuleEntry): e is { priority: number; remove: true } {
  return (e as { remove?: unknown }).remove === true;
}

function resolveList(
  direction: Direction,
  entries: readonly DialPlanRuleEntry[] | undefined,
  preset: readonly ResolvedRule[],
  presetName: string | undefined,
  problems: DialPlanProblem[],
): ResolvedRule[] {
  const byPriority = new Map<number, ResolvedRule>();
  for (const r of preset) byPriority.set(r.priority, r);
  const seen = new Map<number, number>(); // priority → index of first entry using it
  (entries ?? []).forEach((entry, index) => {
    const path = [direction, index];
    if (entry === null || typeof entry !== 'object') {
      problems.push({ severity: 'error', code: 'rule-invalid', message: `${direction}[${index}]: a rule must be a mapping with priority, pattern and value`, path, direction, index, source: 'input' });
      return;
    }
    const priority = (entry as { priority?: unknown }).priority;
    if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0) {
      problems.push({ severity: 'error', code: 'priority-invalid', message: `${direction}[${index}]: priority must be a whole number ≥ 0, got ${JSON.stringify(priority)}`, path: [...path, 'priority'], direction, index, source: 'input' });
      return;
    }
    const first = seen.get(priority);
    if (first !== undefined) {
      problems.push({ severity: 'error', code: 'priority-duplicate', message: `${direction}[${index}]: priority ${priority} is already used by ${direction}[${first}]; only one rule per priority is allowed`, path: [...path, 'priority'], direction, index, priority, source: 'input' });
      return;
    }
    seen.set(priority, index);
    if (isRemoval(entry)) {
      if (!byPriority.has(priority)) {
        const why = presetName ? `the ${presetName} preset has no ${direction} rule with priority ${priority}` : 'no preset is used';
        problems.push({ severity: 'warning', code: 'remove-nothing', message: `${direction}[${index}]: removes priority ${priority}, but ${why}; this entry does nothing`, path, direction, index, priority, source: 'input' });
      }
      byPriority.delete(priority);
      return;
    }
    const { pattern, value, name } = entry as { pattern?: unknown; value?: unknown; name?: unknown };
    if (typeof pattern !== 'string' || typeof value !== 'string' || (name !== undefined && typeof name !== 'string')) {
      problems.push({ severity: 'error', code: 'rule-invalid', message: `${direction}[${index}]: pattern and value must be strings (value may be ""), name a string if given`, path, direction, index, priority, source: 'input' });
      return;
    }
    const rule: ResolvedRule = {
      priority,
      ...(name !== undefined ? { name } : {}),
      pattern,
      value,
      direction,
      source: 'input',
      index,
    };
    byPriority.set(priority, rule);
  });
  return [...byPriority.values()].sort((a, b) => a.priority - b.priority);
}

/**
 * Resolves a DialPlan resource against its domain's defaults. Settings: the resource's value,
 * else the domain's, else DEFAULT_SETTINGS. Rules: the preset's (if any), then each entry of
 * the resource's list replaces the rule with the same priority, or drops it (`remove: true`).
 */
export function resolveDialPlan(
  input: DialPlanInput,
  domainDefaults: Partial<DialPlanSettings> = {},
): ResolvedDialPlan {
  const problems: DialPlanProblem[] = [];
  const settings = resolveSettings(input, domainDefaults, problems);

  let presetOutgoing: ResolvedRule[] = [];
  if (input.preset !== undefined) {
    if (input.preset === 'fr') {
      presetOutgoing = FR_PRESET.map((r) => ({ ...r, direction: 'outgoing' as const, source: 'preset' as const }));
      if (settings.countryCode !== '33') {
        problems.push({
          severity: 'warning',
          code: 'preset-country-mismatch',
          message: `the fr preset is written for country code 33, but countryCode is "${settings.countryCode}"; its rules 5, 10, 15, 20 and 25 will not recognise local numbers in international form`,
          path: ['preset'],
        });
      }
    } else {
      problems.push({ severity: 'error', code: 'setting-invalid', message: `preset: unknown preset ${JSON.stringify(input.preset)}; the only preset is "fr"`, path: ['preset'] });
    }
  }
  const outgoing = resolveList('outgoing', input.outgoing, presetOutgoing, input.preset, problems);
  const incoming = resolveList('incoming', input.incoming, [], input.preset, problems);
  return {
    settings,
    ...(input.preset === 'fr' ? { preset: 'fr' as const } : {}),
    outgoing,
    incoming,
    problems,
  };
}
