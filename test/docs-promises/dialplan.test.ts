/**
 * docs/dialplan.md, promise by promise. Where the page gives an example (a number and what it
 * becomes, a rule and what it shadows, a construct and how it is refused), the example is read
 * from the page itself and run through the real engine (src/dialplan), so the page and the
 * engine cannot drift apart; what test/dialplan already proves is named in the table of the
 * closing note rather than repeated. The resource example and the settings precedence run
 * through the compiled CLI (`switchboard validate` and `switchboard dialplan test`).
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import jsYaml from 'js-yaml';
import {
  behaviourDiff,
  cleanUp,
  compileBoundedRegex,
  compileDialPlan,
  DEFAULT_SETTINGS,
  dialString,
  directoryKey,
  FR_PRESET,
  isCompiled,
  isRegexPattern,
  lookupKey,
  MAX_NUMBER_LENGTH,
  PLACEHOLDERS,
  resolveDialPlan,
  SAMPLE_NUMBERS,
  translate,
  unreachableRules,
} from '../../src/dialplan/index.js';
import type { CompiledDialPlan, DialPlanInput, DialPlanProblem, DialPlanRuleEntry, DialPlanSettings } from '../../src/dialplan/index.js';
import { doc, sb, tempWorkDir } from './helpers.js';

const PAGE = readFileSync('docs/dialplan.md', 'utf8');

/** The text of the section under `heading` (a whole heading line, e.g. '### Outgoing'), up to the next heading of its level or above. */
function section(heading: string): string {
  const start = PAGE.split('\n').findIndex((l) => l === heading);
  expect(start, heading).toBeGreaterThanOrEqual(0);
  const level = heading.indexOf(' ');
  const lines = PAGE.split('\n').slice(start + 1);
  const end = lines.findIndex((l) => /^#+ /.test(l) && l.indexOf(' ') <= level);
  return lines.slice(0, end < 0 ? undefined : end).join('\n');
}

/** The rows (header and separator left out) of the `n`-th table in `text`, cells trimmed; `\|` is a `|` inside a cell. */
function table(text: string, n = 0): string[][] {
  const blocks = text.split(/\n(?!\|)/).map((b) => b.trim()).filter((b) => b.startsWith('|'));
  const block = blocks[n];
  expect(block, `table ${n}`).toBeDefined();
  return block!
    .split('\n')
    .slice(2)
    .map((row) =>
      row
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((c) => c.trim().replace(/\\\|/g, '|')),
    );
}

/** The code spans of a cell or sentence, in order. */
const spans = (text: string): string[] => [...text.matchAll(/`([^`]*)`/g)].map((m) => m[1]!);

/** Every "`a` → `b`" pair in a text. */
const arrows = (text: string): [string, string][] => [...text.matchAll(/`([^`]+)` → `([^`]*)`/g)].map((m) => [m[1]!, m[2]!]);

/** The body of the first fenced block of `language` in `text`. */
function fenced(text: string, language: string): string {
  const m = new RegExp('```' + language + '\\n([\\s\\S]*?)```').exec(text);
  expect(m, language).not.toBeNull();
  return m![1]!;
}

/** The manual's settings (§5), as the page's tables assume them: external 0, international 00, country 33, internal length 4. */
const MANUAL: Partial<DialPlanSettings> = { externalPrefix: '0', internationalPrefix: '00', countryCode: '33', internalLength: 4, inverseLength: 9 };

function compile(input: DialPlanInput, domain: Partial<DialPlanSettings> = MANUAL): CompiledDialPlan {
  const c = compileDialPlan(resolveDialPlan(input, domain));
  if (!isCompiled(c)) throw new Error(`does not compile: ${c.map((p) => `${p.code}: ${p.message}`).join('; ')}`);
  return c;
}
function refused(input: DialPlanInput, domain: Partial<DialPlanSettings> = MANUAL): DialPlanProblem[] {
  const c = compileDialPlan(resolveDialPlan(input, domain));
  if (isCompiled(c)) throw new Error(`expected ${JSON.stringify(input)} to be refused; it compiled`);
  return c;
}
const rule = (pattern: string, value: string, priority = 10): DialPlanRuleEntry => ({ priority, pattern, value });
const out = (plan: CompiledDialPlan, number: string) => translate(plan, number, 'outgoing');

const fr = compile({ preset: 'fr' });

/** A Company acme and its Domain paris (with `domain` fields), then `more` documents: a configuration directory for the CLI. */
function configDir(domainFields: string, more: string): string {
  const dir = tempWorkDir('switchboard-dialplan-');
  writeFileSync(path.join(dir, 'acme.yaml'), `${doc('Company')}name: acme\n---\n${doc('Domain')}company: acme\nname: paris\n${domainFields}`);
  writeFileSync(path.join(dir, 'dialplan.yaml'), more);
  return dir;
}
interface CliTranslation {
  readonly input: string;
  readonly result: string | null;
  readonly rule?: { priority: number; name?: string };
}
function dialplanTest(dir: string, numbers: string[], incoming = false): CliTranslation[] {
  const r = sb(['dialplan', 'test', '.', '--domain', 'acme/paris', '--format', 'json', ...(incoming ? ['--incoming'] : []), ...numbers], { cwd: dir });
  expect(r.stderr).toBe('');
  return (JSON.parse(r.stdout) as { translations: CliTranslation[] }).translations;
}

describe('docs/dialplan.md — the engine', () => {
  it('"It is pure: no I/O, no printing, no clock": src/dialplan imports only itself and touches no console, process, timer, clock or randomness', () => {
    const files = readdirSync('src/dialplan').filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const text = readFileSync(path.join('src/dialplan', f), 'utf8');
      for (const m of text.matchAll(/^(?:import|export)\b[^;]*?from '([^']+)'/gm)) expect(m[1], `${f} imports ${m[1]}`).toMatch(/^\.\/[a-z-]+\.js$/);
      expect(text, f).not.toMatch(/\b(?:console|process|Date|performance|setTimeout|setInterval|setImmediate|Math\.random|require)\b/);
    }
  });

  it('"used by the validator, by plan, by user imports and by reverse lookup": each of them imports it', () => {
    const importsEngine = (dir: string) =>
      readdirSync(dir, { recursive: true, withFileTypes: true }).some((e) => e.isFile() && /from '(?:\.\.\/)+dialplan\/index\.js'/.test(readFileSync(path.join(e.parentPath, e.name), 'utf8')));
    expect(importsEngine('src/validate')).toBe(true);
    expect(importsEngine('src/plan')).toBe(true);
    expect(readFileSync('src/sync/user-import.ts', 'utf8')).toMatch(/from '\.\.\/dialplan\/index\.js'/);
    expect(readFileSync('src/sync/lookup.ts', 'utf8')).toMatch(/from '\.\.\/dialplan\/index\.js'/);
  });

  it('the opening example: resolveDialPlan gives a plain JSON value, and the fr preset turns the number into the commented result', () => {
    const block = fenced(PAGE, 'ts');
    const m = /translate\(compiled, '([^']+)', 'outgoing'\)\.result; \/\/ '([^']+)'/.exec(block);
    expect(m).not.toBeNull();
    const resolved = resolveDialPlan({ preset: 'fr' }, DEFAULT_SETTINGS);
    expect(JSON.parse(JSON.stringify(resolved))).toEqual(resolved);
    const compiled = compileDialPlan(resolved);
    expect(isCompiled(compiled)).toBe(true);
    if (isCompiled(compiled)) expect(translate(compiled, m![1]!, 'outgoing').result).toBe(m![2]);
  });
});

describe('docs/dialplan.md — the resource (compiled CLI)', () => {
  const resource = fenced(section('## The resource'), 'yaml');

  it('the example validates as written, and its rules are merged into the preset as its comments say', () => {
    const dir = configDir('', `apiVersion: switchboard/v1\n${resource}`); // the block starts at kind:
    const validate = sb(['validate', '.'], { cwd: dir });
    expect(validate.stderr).toBe('');
    expect(validate.status).toBe(0);
    const [minitel, plus, thirtyThree] = dialplanTest(dir, ['03611', '+44 20 7946 0958', '33 1 23 45 67 89']);
    expect(minitel).toMatchObject({ result: '03611', rule: { priority: 1, name: 'Minitel' } }); // added
    expect(plus).toMatchObject({ result: '+442079460958', rule: { priority: 40 } }); // replaces preset rule 40
    expect(thirtyThree!.rule).toBeUndefined(); // preset rule 25 dropped: no rule, external prefix
    expect(thirtyThree!.result).toBe('033123456789');
    const [incoming] = dialplanTest(dir, ['+33 1 23 45 67 89'], true);
    expect(incoming).toMatchObject({ result: '0123456789', rule: { priority: 10 } });
  });

  it('the settings table: each default is the documented one', () => {
    const rows = table(section('## The resource'));
    expect(rows.map((r) => spans(r[0]!)[0]).sort()).toEqual(Object.keys(DEFAULT_SETTINGS).sort());
    for (const [name, , value] of rows) {
      const key = spans(name!)[0] as keyof DialPlanSettings;
      const documented = spans(value!)[0]!;
      expect(DEFAULT_SETTINGS[key], key).toEqual(/^"/.test(documented) ? JSON.parse(documented) : Number(documented));
    }
  });

  it('"Each setting comes from the resource, else from its domain, else from the table": through validate and dialplan test', () => {
    // the domain says external prefix 9 and internal length 5; the dial plan overrides only the international prefix
    const dir = configDir('internalLength: 5\nexternalPrefix: "9"\ninternationalPrefix: "00"\ncountryCode: "33"\n', `${doc('DialPlan')}domain: acme/paris\ninternationalPrefix: "011"\noutgoing:\n  - { priority: 1, pattern: "+", value: "[-ExternalPrefix-][-InternationalPrefix-]" }\n`);
    expect(sb(['validate', '.'], { cwd: dir }).status).toBe(0);
    const results = dialplanTest(dir, ['01 23 45 67 89', '12345', '123456', '+44 20 7946 0958']).map((t) => t.result);
    expect(results).toEqual(['90123456789', '12345', '9123456', '9011442079460958']);
    // nothing in the domain nor the resource: the table (external 0, internal length 4)
    const bare = configDir('', `${doc('DialPlan')}domain: acme/paris\n`);
    expect(dialplanTest(bare, ['01 23 45 67 89', '1234', '12345']).map((t) => t.result)).toEqual(['00123456789', '1234', '012345']);
  });

  it('"Prefixes and the country code are digits only; incomingAdd/incomingRemove may start with one +, # or *. Lengths are whole numbers from 0 to 64"', () => {
    for (const key of ['internationalPrefix', 'countryCode', 'externalPrefix'] as const) {
      for (const bad of ['+0', '#0', '0-0', '0 0', 'x']) expect(refused({ [key]: bad }).map((p) => [p.code, p.path])).toEqual([['setting-invalid', [key]]]);
    }
    for (const key of ['incomingAdd', 'incomingRemove'] as const) {
      for (const good of ['+33', '#1', '*2', '0', '']) expect(() => compile({ [key]: good }), `${key} ${good}`).not.toThrow();
      for (const bad of ['++33', '+#1', '0+', '3*', 'a']) expect(refused({ [key]: bad }).map((p) => [p.code, p.path]), `${key} ${bad}`).toEqual([['setting-invalid', [key]]]);
    }
    for (const key of ['internalLength', 'inverseLength'] as const) {
      for (const good of [0, 64]) expect(() => compile({ [key]: good })).not.toThrow();
      for (const bad of [-1, 65, 1.5]) expect(refused({ [key]: bad }).map((p) => [p.code, p.path])).toEqual([['setting-invalid', [key]]]);
    }
  });

  it('"Lists are sorted by priority", with or without a preset; "two entries with the same priority in one list are an error"', () => {
    const plan = compile({ outgoing: [rule('0', '1', 20), rule('06', '2', 10)], incoming: [rule('0', '1', 20), rule('06', '2', 10)] });
    expect(plan.outgoing.map((r) => r.priority)).toEqual([10, 20]);
    expect(plan.incoming.map((r) => r.priority)).toEqual([10, 20]);
    expect(out(plan, '0612345678').rule?.priority).toBe(10);
    expect(refused({ incoming: [rule('1', '1', 5), rule('2', '2', 5)] }).map((p) => p.code)).toEqual(['priority-duplicate']);
    // the same priority in the two lists is not a duplicate
    expect(() => compile({ outgoing: [rule('1', '1', 5)], incoming: [rule('2', '2', 5)] })).not.toThrow();
  });
});

describe('docs/dialplan.md — patterns and values', () => {
  it('plain patterns: spaces, dots, dashes and slashes are ignored, parentheses kept; allowed characters only', () => {
    const plan = compile({ outgoing: [rule('+33 (0)', '[-ExternalPrefix-]0', 1), rule('00.44-20/7', '9', 2)] });
    expect(out(plan, '+33(0)1 23 45 67 89').result).toBe('00123456789');
    expect(out(plan, '0044 20 7946 0958').result).toBe('99460958');
    for (const bad of ['33a', '3+3', '3#', '+*3', '++3']) expect(refused({ outgoing: [rule(bad, '0')] }).map((p) => p.code), bad).toEqual(['pattern-invalid-char']);
    for (const good of ['#31', '*21', '+', '[-CountryCode-]33']) expect(() => compile({ outgoing: [rule(good, '0')] }), good).not.toThrow();
  });

  it('"Brackets that are only placeholders ([-CountryCode-]33) do not make a regex"', () => {
    const example = spans(/Brackets that are only placeholders \(([^)]*)\)/.exec(section('## Patterns and values'))![1]!)[0]!;
    expect(example).toBe('[-CountryCode-]33');
    expect(isRegexPattern(example)).toBe(false);
    expect(isRegexPattern('[(\\+|00)33\\(0\\)]')).toBe(true);
    expect(out(compile({ outgoing: [rule(example, '9')] }), '3333 1234').result).toBe('91234');
  });

  it('values: $0 and $& for the whole match, ${n} before a digit, a group that did not take part gives nothing', () => {
    const plan = compile({ outgoing: [rule('[7\\d]', '$&9', 1), rule('[8(\\d)]', '${1}0', 2), rule('[9(5)?(\\d)]', '$1$2', 3)] });
    expect(out(plan, '7123456').result).toBe('71923456');
    expect(out(plan, '8123456').result).toBe('1023456');
    expect(out(plan, '9612345').result).toBe('612345');
  });

  it('"Only digits come from the number": [\\+44] with value $0 gives 44; rule 30\'s ([^\\(]+) never carries a ) or a # into the result', () => {
    const zero = compile({ externalPrefix: '', outgoing: [rule('[\\+44]', '$0')] });
    expect(out(zero, '+44 20 7946 0958').result).toBe('442079460958');
    const r30 = FR_PRESET.find((r) => r.priority === 30)!;
    const plan = compile({ outgoing: [rule(r30.pattern, r30.value, 30)] });
    for (const [number, result] of [
      ['#42(0)141906666', '00042141906666'], // $2 = "#42"
      ['+42)1(0)1234567', '000421' + '1234567'], // $2 = "42)1"
    ]) {
      const t = out(plan, number!);
      expect(t.rule?.priority, number).toBe(30);
      expect(t.result).toBe(result);
    }
  });

  it('placeholders: exactly the three of the table, case-sensitive, unknown ones refused with a did-you-mean for case mistakes', () => {
    const names = table(section('### Placeholders')).map((r) => spans(r[0]!)[0]);
    expect(names).toEqual(Object.keys(PLACEHOLDERS).map((k) => `[-${k}-]`));
    for (const [name, setting] of table(section('### Placeholders')).map((r) => [spans(r[0]!)[0]!, spans(r[1]!)[0]!] as const)) {
      expect(PLACEHOLDERS[name.slice(2, -2) as keyof typeof PLACEHOLDERS]).toBe(setting);
    }
    const [unknown] = refused({ outgoing: [rule('[-Area-]1', '0')] });
    expect(unknown).toMatchObject({ code: 'placeholder-unknown' });
    const [lower] = refused({ outgoing: [rule('1', '[-countrycode-]')] });
    expect(lower!.message).toMatch(/did you mean \[-CountryCode-\]/);
  });
});

describe('docs/dialplan.md — the French preset', () => {
  const rows = table(section('## The French preset (`preset: fr`)'));

  it('the table is FR_PRESET: the same priorities, patterns and values', () => {
    expect(rows.map((r) => [Number(r[0]), spans(r[1]!)[0], spans(r[2]!)[0]])).toEqual(FR_PRESET.map((r) => [r.priority, r.pattern, r.value]));
  });

  it('each example of the table gives its result, by its rule', () => {
    for (const row of rows) {
      const examples = arrows(row[4]!);
      expect(examples, row[0]).toHaveLength(1);
      for (const [number, result] of examples) {
        const t = out(fr, number);
        expect([t.result, t.rule?.priority], number).toEqual([result, Number(row[0])]);
      }
    }
  });

  it('each prefix of the "with 0 / 00 / 33" column becomes what the column says, the rest of the number kept', () => {
    const rest = '123456789';
    let checked = 0;
    for (const row of rows) {
      const cell = row[3]!;
      if (cell === 'unchanged') {
        const prefix = spans(row[1]!)[0]!;
        expect(out(fr, prefix + rest)).toMatchObject({ result: prefix + rest, rule: { priority: Number(row[0]) } });
        checked++;
        continue;
      }
      const [, to] = /→ `([^`]*)`$/.exec(cell)!;
      for (const from of spans(cell).slice(0, -1)) {
        expect([out(fr, from + rest).result, out(fr, from + rest).rule?.priority], `${from}${rest}`).toEqual([to + rest, Number(row[0])]);
        checked++;
      }
    }
    expect(checked).toBe(11);
  });

  it('"Numbers in national notation match no rule and get the external prefix"', () => {
    const [national, result] = arrows(/Numbers in national notation \(([^)]*)\)[^:]*: (`[^`]*`)/.exec(section('## The French preset (`preset: fr`)'))!.slice(1).join(' → '))[0]!;
    const t = out(fr, national);
    expect([t.result, t.rule, t.externalPrefixAdded]).toEqual([result, undefined, true]);
  });

  it('"rule 15 is, in results, redundant with rule 20\'s \\+ branch": removing it changes no result on the sample, the examples and the libphonenumber notations', () => {
    const without15 = compile({ preset: 'fr', outgoing: [{ priority: 15, remove: true }] });
    const numbers = [
      ...SAMPLE_NUMBERS(MANUAL).map((s) => s.number),
      ...rows.flatMap((r) => arrows(r[4]!).map(([n]) => n)),
      '+33 6 12 34 56 78',
      '+33612345678',
      '(+33) 1 23 45 67 89',
      '+33 (0)1 23 45 67 89',
      '+330 1 23 45 67 89',
    ];
    const changed = behaviourDiff(fr, without15, numbers.map((number) => ({ number, direction: 'outgoing' as const })));
    expect(changed).toEqual([]);
    expect(numbers.filter((n) => out(fr, n).rule?.priority === 15).length).toBeGreaterThan(3); // rule 15 did take them
  });

  it('"the preset with another countryCode gives the warning preset-country-mismatch"', () => {
    const c = compileDialPlan(resolveDialPlan({ preset: 'fr', countryCode: '41' }, MANUAL));
    expect(isCompiled(c) && c.warnings.map((w) => [w.code, w.severity])).toEqual([['preset-country-mismatch', 'warning']]);
  });

  it('the recommended override, as printed: +1 (212) 555-0100 keeps its area code, (0) is still stripped', () => {
    const text = section('## The French preset (`preset: fr`)');
    const override = jsYaml.load(fenced(text, 'yaml')) as { outgoing: DialPlanRuleEntry[] };
    const plan = compile({ preset: 'fr', ...override });
    const [lost] = spans(/Rule 30 removes \*whatever\* is in parentheses, so (`[^`]*`)/.exec(text)![1]!);
    expect(out(fr, lost!).result).toBe('00015550100'); // the area code lost, as the page says
    expect(out(plan, lost!).result).toBe('00012125550100');
    expect(out(plan, '+44 (0) 20 7946 0958')).toMatchObject({ result: '000442079460958', rule: { priority: 30 } });
  });
});

describe('docs/dialplan.md — the algorithm', () => {
  const text = section('## The algorithm, step by step');

  it('the clean-up and dial-string examples', () => {
    const [a, b, same] = spans(/so\s+`\(\+33\) 1 23` and `\+\(33\) 1 23` are `\+33123`/.exec(text)![0]);
    expect([cleanUp(a!), cleanUp(b!)]).toEqual([same, same]);
    const [number, dial] = spans(/parentheses after the first digit are kept:\s+(`[^`]*` → `[^`]*`)/.exec(text)![1]!);
    expect(dialString(number!)).toBe(dial);
    expect(cleanUp('\u202A+33 1 23 45 67 89\u202C')).toBe('+33123456789'); // "keeps its +"
    expect(cleanUp('＋３３ １')).toBe('+331'); // full-width digits count
  });

  it('outgoing steps 1–3: no digit → null; over 64 characters → null; only one rule is ever applied, and a rule that gives up stops the translation', () => {
    expect(out(fr, 'poste').result).toBeNull();
    expect(MAX_NUMBER_LENGTH).toBe(64);
    expect(out(fr, '1'.repeat(64)).result).not.toBeNull();
    expect(out(fr, '1'.repeat(65)).result).toBeNull();
    // the 64 characters are those of the dial string: parentheses count, spaces do not
    expect(out(fr, '+33 (0) ' + '1'.repeat(58)).result).not.toBeNull(); // +33(0) and 58 digits: 64
    expect(out(fr, '+33 (0) ' + '1'.repeat(59)).result).toBeNull(); // 65
    // only one rule: rule 5 turns +330 into 00, and rule 15 (+33) is not applied after it
    expect(out(fr, '+33 0 33 45 67 89')).toMatchObject({ result: '0033456789', rule: { priority: 5 } });
    const plan = compile({ outgoing: [rule('[(\\d*)*\\1\\(\\d]', '9', 3), rule('0', '0', 4)] });
    const gaveUp = out(plan, '0612345678901234567890 (');
    expect(gaveUp).toMatchObject({ result: null, rule: { priority: 3 } });
    expect(gaveUp.reason).toMatch(/^rule 3 \(pattern .*\) could not be evaluated.*remove the back-reference, or the repetitions around it$/);
  });

  it('the outgoing truth table, row by row, with the numbers of the page', () => {
    const rows = table(section('### Outgoing truth table'));
    const plan = compile({
      preset: 'fr',
      outgoing: [
        rule('112', '0112', 1),
        rule('03611', '03611', 2),
        rule('33', '[-ExternalPrefix-]0', 25), // the preset's, as a plain rule
        rule('+4499', '', 41),
        rule('+49', '+49', 42),
        rule('#', '#', 50),
      ],
    });
    const manualPlus = compile({ outgoing: [rule('+', '00', 40)] });
    // [row, plan, number, result, external prefix added]
    const cases: [number, CompiledDialPlan, string, string | null, boolean][] = [
      [0, plan, '1234', '1234', false],
      [1, plan, '3312', '3312', false],
      [2, plan, '112', '0112', false],
      [3, plan, '03611', '03611', false],
      [4, plan, '0123456789', '00123456789', true],
      [5, fr, '+3912334477', '0003912334477', false],
      [6, manualPlus, '+3912334477', '0003912334477', true],
      [7, compile({ outgoing: [rule('+4499', '', 1)] }), '+44 99 1234', '1234', false],
      [8, compile({ outgoing: [rule('+49', '+49', 1)] }), '+49 30 1234567', '+49301234567', false],
      [9, compile({}), '+44 20 7946 0958', '+442079460958', false],
      [10, plan, '#31#0123456789', '#310123456789', false],
      [11, compile({}), '*21*0612345678#', '*210612345678', false],
      [12, fr, '1'.repeat(65), null, false],
      [13, compile({ outgoing: [rule('[(\\d*)*\\1\\(\\d]', '9', 3)] }), '0612345678901234567890 (', null, false],
    ];
    expect(cases.map((c) => c[0])).toEqual(rows.map((_, i) => i)); // one case per row of the page
    for (const [row, p, number, result, added] of cases) {
      const t = out(p, number);
      expect([t.result, t.externalPrefixAdded], `row ${row + 1}: ${rows[row]!.join(' | ')}`).toEqual([result, added]);
    }
    // the examples quoted in the table's cells, "`a` → `b`" where a is a number
    for (const [number, result] of rows.flatMap((r) => arrows(r.join(' ')))) {
      if (/ /.test(number) || /^\+\d{9,}$/.test(number)) {
        const p = number === '+44 99 1234' ? cases[7]![1] : fr;
        expect(out(p, number).result, number).toBe(result);
      }
    }
  });

  it('settled ambiguities: extension 3312 is not turned into 0012 by preset rule 25; (+33) is read as +33', () => {
    expect(out(fr, '3312').result).toBe('3312');
    expect(out(fr, '3312').externalPrefixAdded).toBe(false);
    expect(out(compile({ preset: 'fr', internalLength: 0 }), '3312').result).toBe('0012'); // what rule 25 would do
    expect(out(fr, '(+33) 1 23 45 67 89').result).toBe('00123456789');
  });
});

describe('docs/dialplan.md — incoming numbers and reverse lookup', () => {
  const text = section('## Incoming numbers and reverse lookup');
  const pbx = compile({ preset: 'fr', incomingRemove: '0' });

  it('steps 1, 2 and 4 as for outgoing; remove once, then add, then the first incoming rule; never the external prefix; a rule that gives up gives null', () => {
    const inc = (p: CompiledDialPlan, n: string) => translate(p, n, 'incoming');
    expect(inc(pbx, 'abc').result).toBeNull();
    expect(inc(pbx, '0'.repeat(65)).result).toBeNull();
    expect(inc(pbx, '0123').result).toBe('0123'); // internal: remove not applied
    const p = compile({ incomingRemove: '0', incomingAdd: '+33', incoming: [rule('+330', '+33', 1), rule('112', '0112', 2)] });
    expect(inc(p, '00123456789').result).toBe('+33123456789'); // one 0 removed, +33 added (+330123456789), rule 1
    expect(inc(p, '112')).toMatchObject({ result: '0112', rule: { priority: 2 } }); // an internal number matched whole, as for outgoing
    const backref = compile({ incoming: [rule('[(\\d*)*\\1\\(\\d]', '9', 3), rule('0', '0', 4)] });
    expect(inc(backref, '0612345678901234567890 (')).toMatchObject({ result: null, rule: { priority: 3 } });
    expect(inc(backref, '0612345678').rule?.priority).toBe(4);
    expect(inc(pbx, '0123456789').externalPrefixAdded).toBe(false);
  });

  it('the table: caller → after remove/add → lookup key, with remove 0 and inverse length 9', () => {
    const rows = table(text);
    expect(rows).toHaveLength(4);
    for (const [caller, after, key] of rows.map((r) => r.map((c) => spans(c)[0]!))) {
      expect(translate(pbx, caller!, 'incoming').result, caller).toBe(after);
      expect(lookupKey(pbx, caller!), caller).toBe(key);
    }
  });

  it('a caller presented as 00123456789 and the three stored notations of the page all have the key 123456789', () => {
    const sentence = /a caller presented as (`[^`]*`) and a contact stored as\s+([\s\S]*?) all have the key (`[^`]*`)/.exec(text)!;
    const [caller] = spans(sentence[1]!);
    const stored = spans(sentence[2]!);
    const [key] = spans(sentence[3]!);
    expect(stored).toHaveLength(3);
    expect(lookupKey(pbx, caller!)).toBe(key);
    for (const s of stored) expect(directoryKey(pbx, s), s).toBe(key);
    // inverse length 0 = all digits
    expect(lookupKey(compile({ inverseLength: 0 }), '+33 1 23 45 67 89')).toBe('33123456789');
  });
});

describe('docs/dialplan.md — regular expressions', () => {
  const text = section('## Regular expressions');

  /** One pattern per construct of the accepted subset, with an input it is run on, here and by V8. */
  const ACCEPTED: [string, string][] = [
    ['\\d\\D', '1a'],
    ['\\w\\W', 'a#'],
    ['\\s\\S', ' 1'],
    ['\\b1\\B2', '12'],
    ['\\t\\n\\r\\f\\v', '\t\n\r\f\v'],
    ['\\x31\\u0032', '12'],
    ['\\cJ', '\n'],
    ['\\0', '\0'],
    ['\\+\\(\\)\\.\\*\\?\\[\\]\\{\\}\\|\\\\\\/\\^\\$', '+().*?[]{}|\\/^$'],
    ['.', '1'],
    ['[0-5][^6-9]', '12'],
    ['(1)(?:2)', '12'],
    ['(?<cc>33)', '33'],
    ['1(?=2)', '12'],
    ['1(?!3)', '12'],
    ['(?<=0)1', '01'],
    ['(?<!2)1', '01'],
    ['(\\d)\\1', '11'],
    ['(?<d>\\d)\\k<d>', '11'],
    ['1*2+3?', '1223'],
    ['\\d{2}\\d{1,}\\d{1,2}', '123456'],
    ['\\d*?\\d+?\\d??\\d{1,2}?', '1234'],
    ['^1|2$', '2'],
  ];

  it.each(ACCEPTED)('accepts /%s/ and matches it as JavaScript does', (source, input) => {
    const plan = compile({ outgoing: [rule(`[${source}]`, '9', 1)] });
    expect(plan.outgoing[0]!.regex).toBeDefined();
    const m = compileBoundedRegex(source).exec(input);
    const js = new RegExp(source).exec(input);
    expect(m && [m.index, ...m.captures]).toEqual(js && [js.index, ...js]);
    expect(js).not.toBeNull();
  });

  /** Each row of the "Refused with regex-unsupported" table: patterns (or values) that must be refused, and the code. */
  const REFUSED: Record<string, { patterns?: string[]; values?: [string, string][]; code: string }> = {
    "`(?'name'…)`, `(?<a-b>…)`, `(?<-b>…)`": { patterns: ["(?'cc'\\d)", '(?<a-b>\\d)', '(?<-b>\\d)'], code: 'regex-unsupported' },
    '`(?i)`, `(?x:…)`, any inline option': { patterns: ['(?i)33', '(?x:3 3)', '(?m)3', '(?-i:3)'], code: 'regex-unsupported' },
    '`(?>…)` atomic, `(?(…)…)` conditional, `(?#…)` comment': { patterns: ['(?>\\d+)0', '(?(1)a|b)', '(?#c)33'], code: 'regex-unsupported' },
    '`\\A`, `\\Z`, `\\z`, `\\G`': { patterns: ['\\A3', '3\\Z', '3\\z', '\\G3'], code: 'regex-unsupported' },
    '`a++`, `a*+` (possessive)': { patterns: ['\\d++', '\\d*+0'], code: 'regex-unsupported' },
    '`[a-z-[aeiou]]` class subtraction': { patterns: ['[0-9-[5]]'], code: 'regex-unsupported' },
    '`[]…]`, `[^]…]`': { patterns: ['[]0]', '[^]0]'], code: 'regex-unsupported' },
    '`\\p{…}`, `\\P{…}`': { patterns: ['\\p{Nd}', '\\P{L}'], code: 'regex-unsupported' },
    '`\\e`, `\\a`': { patterns: ['\\e', '\\a'], code: 'regex-unsupported' },
    '`\\012`, `\\1` with no group 1': { patterns: ['\\012', '\\1', '(\\d)\\2'], code: 'regex-unsupported' },
    "`\\k'name'`": { patterns: ["(?<cc>\\d)\\k'cc'"], code: 'regex-unsupported' },
    'unknown letter escapes (`\\q`), short `\\x4`, `\\u12`': { patterns: ['\\q', '\\x4', '\\u12'], code: 'regex-unsupported' },
    'a group name used twice, or not an identifier (`(?<1>…)`)': { patterns: ['(?<a>\\d)(?<a>\\d)', '(?<1>\\d)'], code: 'regex-unsupported' },
    "in values: `${name}`, `$+`, `$_`, `` $` ``, `$'`": { values: [['(?<name>\\d)', '${name}'], ['(\\d)', '$+'], ['(\\d)', '$_'], ['(\\d)', '$`'], ['(\\d)', "$'"]], code: 'value-unsupported' },
    'named and unnamed groups mixed, with `$n` in the value': { values: [['(?<cc>\\d\\d)(\\d)', '$1']], code: 'regex-group-numbering' },
  };

  it('every row of the "Refused with regex-unsupported" table is refused with its code, at the pattern or the value', () => {
    const rows = table(text);
    expect(rows.map((r) => r[0])).toEqual(Object.keys(REFUSED));
    for (const [row, { patterns = [], values = [], code }] of Object.entries(REFUSED)) {
      for (const p of patterns) expect(refused({ outgoing: [rule(`[${p}]`, '0', 7)] }).map((x) => [x.code, x.path]), `${row}: ${p}`).toEqual([[code, ['outgoing', 0, 'pattern']]]);
      for (const [p, v] of values) expect(refused({ outgoing: [rule(`[${p}]`, v, 7)] }).map((x) => [x.code, x.path]), `${row}: ${p} → ${v}`).toEqual([[code, ['outgoing', 0, 'value']]]);
    }
  });

  it('"Other syntax errors are regex-invalid": what is wrong and how to fix it for the usual mistakes, else JavaScript\'s own reason — never V8\'s raw text', () => {
    expect(text).toMatch(/Other syntax errors are `regex-invalid`: "not a valid regular expression: " and what is wrong/);
    const cases: [string, RegExp][] = [
      ['(33', /a '\(' is never closed: add the '\)', or write \\\( for a literal parenthesis$/],
      ['33)', /a '\)' closes no group/],
      ['*33', /a quantifier .* follows nothing it can repeat/],
      ['3{2,1}', /write the smaller first$/],
      ['[9-0]', /write it from low to high/],
      ['(?<=3)+', /follows something that cannot be repeated/],
    ];
    for (const [p, message] of cases) {
      const [problem] = refused({ outgoing: [rule(`[${p}]`, '0')] });
      expect(problem!.code, p).toBe('regex-invalid');
      expect(problem!.message, p).toMatch(/: not a valid regular expression: /);
      expect(problem!.message, p).toMatch(message);
      expect(problem!.message, p).not.toMatch(/Invalid regular expression/);
    }
  });
});

describe('docs/dialplan.md — bounded matching, through dial-plan rules', () => {
  const text = section('### Bounded matching');

  it('"No pattern is refused as prone to catastrophic backtracking": the page\'s examples compile as rules and translate 64-character numbers within 500 × 65 steps', () => {
    const examples = ['(\\d+)+x', '(1|11)+2', '\\d?'.repeat(40) + '#', '(?:\\d|\\d)'.repeat(40) + '#'];
    expect(text).toContain('`(\\d+)+x`, `(1|11)+2`, forty `\\d?` in a row then `#`, or `(?:\\d|\\d)` written out forty times');
    const plan = compile({ outgoing: examples.map((p, i) => rule(`[${p}]`, '9', i + 1)), incoming: examples.map((p, i) => rule(`[${p}]`, '9', i + 1)) });
    for (const r of plan.outgoing) {
      for (const number of ['1'.repeat(64), '1'.repeat(63) + '#', '#' + '1'.repeat(63)]) {
        const counter = { steps: 0 };
        r.regex!.exec(number, counter);
        expect(counter.steps, r.pattern).toBeLessThanOrEqual(500 * 65);
      }
    }
    expect(out(plan, '#' + '1'.repeat(63)).rule?.priority).toBe(3); // a # is kept only first: forty empty \d? then #
    expect(translate(plan, '1'.repeat(64), 'incoming').rule).toBeUndefined();
  });

  it('"regex-too-large, naming the repetition: (\\d{1000}){1000}, \\d{501}" — as dial-plan problems', () => {
    for (const p of ['(\\d{1000}){1000}', '\\d{501}']) {
      const [problem] = refused({ outgoing: [rule(`[${p}]`, '0')] });
      expect(problem).toMatchObject({ code: 'regex-too-large', severity: 'error', path: ['outgoing', 0, 'pattern'] });
      expect(problem!.message).toContain(`"${p}" is repeated too many times`);
    }
  });

  it('"Groups nested at most 100 deep (regex-unsupported beyond: flatten the pattern)" — as dial-plan problems', () => {
    const nested = (depth: number) => `[${'('.repeat(depth)}1${')'.repeat(depth)}]`;
    expect(() => compile({ outgoing: [rule(nested(100), '0')] })).not.toThrow();
    const [problem] = refused({ outgoing: [rule(nested(101), '0')] });
    expect(problem).toMatchObject({ code: 'regex-unsupported' });
    expect(problem!.message).toMatch(/nested more than 100 deep.*flatten the pattern/);
    expect(refused({ outgoing: [rule(nested(50_000), '0')] })[0]!.code).toBe('regex-unsupported'); // no stack overflow
  });
});

describe('docs/dialplan.md — problems', () => {
  const rows = table(section('## Problems'));

  /** An input that gives each code of the table. */
  const TRIGGERS: Record<string, DialPlanInput> = {
    'setting-invalid': { externalPrefix: 0 as unknown as string },
    'rule-invalid': { outgoing: [{ priority: 1, pattern: '1' } as DialPlanRuleEntry] },
    'priority-invalid': { outgoing: [rule('1', '1', -1)] },
    'priority-duplicate': { outgoing: [rule('1', '1', 1), rule('2', '2', 1)] },
    'remove-nothing': { preset: 'fr', outgoing: [{ priority: 99, remove: true }] },
    'preset-country-mismatch': { preset: 'fr', countryCode: '41' },
    'pattern-empty': { outgoing: [rule('', '1')] },
    'pattern-invalid-char': { outgoing: [rule('33a', '1')] },
    'placeholder-unknown': { outgoing: [rule('[-Nope-]', '1')] },
    'value-invalid-char': { outgoing: [rule('33', '$1')] },
    'value-group-missing': { outgoing: [rule('[(\\d)]', '$2')] },
    'value-unsupported': { outgoing: [rule('[(\\d)]', '$+')] },
    'regex-invalid': { outgoing: [rule('[(33]', '1')] },
    'regex-unsupported': { outgoing: [rule('[(?i)33]', '1')] },
    'regex-too-large': { outgoing: [rule('[\\d{501}]', '1')] },
    'regex-group-numbering': { outgoing: [rule('[(?<cc>\\d\\d)(\\d)]', '$1')] },
    'rule-unreachable': { outgoing: [rule('06', '1', 1), rule('0612', '2', 2)] },
  };

  it('the table lists exactly the codes of DialPlanProblemCode', () => {
    const union = /export type DialPlanProblemCode =([^;]+);/.exec(readFileSync('src/dialplan/types.ts', 'utf8'))![1]!;
    const codes = [...union.matchAll(/'([a-z-]+)'/g)].map((m) => m[1]!);
    expect(rows.map((r) => spans(r[0]!)[0]).sort()).toEqual([...codes].sort());
  });

  it.each(Object.keys(TRIGGERS))('%s is reported with the severity of the table', (code) => {
    const row = rows.find((r) => r[0] === `\`${code}\``)!;
    expect(row).toBeDefined();
    const c = compileDialPlan(resolveDialPlan(TRIGGERS[code]!, MANUAL));
    const all = isCompiled(c) ? c.warnings : c;
    expect(all.map((p) => [p.code, p.severity])).toEqual([[code, row[1]]]);
    // errors make compileDialPlan fail; warnings ride on the compiled plan
    expect(isCompiled(c)).toBe(row[1] === 'warning');
  });

  it('"compileDialPlan returns all problems at once"; a problem in a preset rule has the path [\'preset\'] and its priority', () => {
    const all = refused({ countryCode: 'x', outgoing: [rule('33a', '1', 1), rule('[(33]', '1', 2)], incoming: [rule('1', '[-Nope-]', 1)] });
    expect(all.map((p) => p.code)).toEqual(['setting-invalid', 'pattern-invalid-char', 'regex-invalid', 'placeholder-unknown']);
    const shadowed = compile({ preset: 'fr', outgoing: [rule('+', '00', 1)] });
    expect(shadowed.warnings.map((w) => [w.code, w.path, w.priority, w.source])).toEqual([
      ['rule-unreachable', ['preset'], 5, 'preset'],
      ['rule-unreachable', ['preset'], 15, 'preset'],
      ['rule-unreachable', ['preset'], 40, 'preset'],
    ]);
  });

  it('unreachable rules: each example of the page is reported, the counter-example is not', () => {
    const text = section('### Unreachable rules');
    const pairs = [...text.matchAll(/`([^`]+)` then\s+`([^`]+)`/g)].map((m) => [m[1]!, m[2]!] as const);
    expect(pairs).toHaveLength(5);
    for (const [i, [first, later]] of pairs.entries()) {
      const reported = unreachableRules(compile({ outgoing: [rule(first, '1', 1), rule(later, '2', 2)] })).map((u) => [u.rule.priority, u.shadowedBy.priority]);
      const counterExample = i === pairs.length - 1; // "… is not reported"
      expect(reported, `${first} then ${later}`).toEqual(counterExample ? [] : [[2, 1]]);
    }
    expect(text).toMatch(/`\+` then `\[\(\\\+\|00\)44\]` is not reported/);
  });
});

describe('docs/dialplan.md — behaviour diff', () => {
  it('null stands for "no dial plan": a created or deleted dial plan lists every number it translates', () => {
    const sample = SAMPLE_NUMBERS(MANUAL);
    const translated = sample.filter((s) => translate(fr, s.number, s.direction).result !== null);
    expect(behaviourDiff(null, fr, sample)).toHaveLength(translated.length);
    expect(behaviourDiff(fr, null, sample)).toHaveLength(translated.length);
    expect(translated.length).toBeGreaterThan(20);
  });
});

describe('docs/dialplan.md — differences from libphonenumber', () => {
  it('each input of the table gives what the "this engine" column says', () => {
    const rows = table(section('## Differences from libphonenumber'));
    let checked = 0;
    for (const [input, , engine] of rows) {
      if (input === 'any invalid number') {
        expect(out(fr, '+33 9 99').result).toBe('00999'); // too short to be valid: translated anyway
        continue;
      }
      for (const number of spans(input!)) {
        const expected = engine === 'sent unchanged' ? number : spans(engine!)[0];
        expect(out(fr, number).result, number).toBe(expected);
        checked++;
      }
    }
    expect(checked).toBe(6);
  });
});
