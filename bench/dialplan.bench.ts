// Dial-plan translation throughput with the fr preset, next to its floor (cleanUp alone); the
// bounded regex matcher on the preset's rules next to V8's RegExp; and the worst adversarial
// regex found, on 64-character numbers, next to its target (≤ 1 ms).
// Run: npx tsx bench/dialplan.bench.ts [count]. Not a test: prints figures, asserts nothing.
import {
  BACKREF_STEP_BUDGET,
  BoundedRegexError,
  cleanUp,
  compileBoundedRegex,
  compileDialPlan,
  dialString,
  FR_PRESET,
  isCompiled,
  lookupKey,
  resolveDialPlan,
  translate,
} from '../src/dialplan/index.js';

const COUNT = Number(process.argv[2] ?? 200_000);

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(42);
const digits = (n: number) => Array.from({ length: n }, () => String(Math.floor(random() * 10))).join('');
const pairs = (s: string) => s.match(/../g)!.join(' ');

/** A mix close to what users dial and what imports carry. */
const SHAPES: (() => string)[] = [
  () => digits(4), // internal
  () => `0${1 + Math.floor(random() * 7)} ${pairs(digits(8))}`, // national, spaced
  () => `0${1 + Math.floor(random() * 7)}${digits(8)}`, // national, compact
  () => `0${1 + Math.floor(random() * 7)}.${pairs(digits(8)).replace(/ /g, '.')}`,
  () => `+33 ${1 + Math.floor(random() * 7)} ${pairs(digits(8))}`,
  () => `+33 (0)${1 + Math.floor(random() * 7)} ${pairs(digits(8))}`,
  () => `+330${digits(9)}`,
  () => `0033 ${digits(9)}`,
  () => `33${digits(9)}`,
  () => `+44 (0)20 ${digits(4)} ${digits(4)}`,
  () => `+1 212-555-${digits(4)}`,
  () => `+49 30 ${digits(8)}`,
  () => `#31#0${digits(9)}`,
  () => `*21*06${digits(8)}#`,
];
const numbers = Array.from({ length: COUNT }, () => SHAPES[Math.floor(random() * SHAPES.length)]!());

const compiled = compileDialPlan(resolveDialPlan({ preset: 'fr', incomingRemove: '0' }, {}));
if (!isCompiled(compiled)) throw new Error('the fr preset does not compile');

let sink = 0;
function time(label: string, body: () => void): { label: string; ms: number } {
  body(); // warm-up
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    body();
    runs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  runs.sort((a, b) => a - b);
  return { label, ms: runs[2]! }; // median of 5
}

const rows = [
  time('cleanUp only (floor)', () => {
    for (const n of numbers) sink += cleanUp(n).length;
  }),
  time('translate outgoing', () => {
    for (const n of numbers) sink += translate(compiled, n, 'outgoing').result?.length ?? 0;
  }),
  time('translate outgoing, with steps', () => {
    for (const n of numbers) sink += translate(compiled, n, 'outgoing', { steps: true }).steps?.length ?? 0;
  }),
  time('lookupKey (incoming)', () => {
    for (const n of numbers) sink += lookupKey(compiled, n)?.length ?? 0;
  }),
];

// the preset's regex rules alone, as translate runs them (anchored), on the same numbers
const presetSources = FR_PRESET.filter((r) => r.pattern.startsWith('[')).map((r) => r.pattern.slice(1, -1).replace(/\[-InternationalPrefix-\]/g, '00'));
const bounded = presetSources.map((src) => compileBoundedRegex(src, { anchored: true }));
const v8 = presetSources.map((src) => new RegExp(`^(?:${src})`));
const dials = numbers.map(dialString);
rows.push(
  time(`preset regex rules ×${presetSources.length}, bounded matcher`, () => {
    for (const d of dials) for (const r of bounded) sink += r.exec(d)?.index ?? 1;
  }),
  time(`preset regex rules ×${presetSources.length}, V8 RegExp (reference)`, () => {
    for (const d of dials) for (const r of v8) sink += r.exec(d)?.index ?? 1;
  }),
);

const compileRuns = 2_000;
const compileRow = time(`compile fr preset ×${compileRuns}`, () => {
  for (let i = 0; i < compileRuns; i++) sink += isCompiled(compileDialPlan(resolveDialPlan({ preset: 'fr' }, {}))) ? 1 : 0;
});

const floor = rows[0]!.ms;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const table = [
  ['loop', 'median ms', 'numbers/s', '× floor'],
  ...rows.map((r) => [r.label, r.ms.toFixed(1), fmt((COUNT / r.ms) * 1000), (r.ms / floor).toFixed(1)]),
  [compileRow.label, compileRow.ms.toFixed(1), `${fmt((compileRuns / compileRow.ms) * 1000)} plans/s`, ''],
];
const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
console.log(`dial-plan engine, fr preset, ${fmt(COUNT)} mixed numbers, Node ${process.versions.node}`);
for (const row of table) console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));

// ── adversarial regexes: each on 64-character numbers, anchored (as rules run) and not ──
// V8's backtracking engine takes seconds to forever on these (not run here: it would not end).
const ADVERSARIAL = [
  '\\d?'.repeat(40) + '#', // the example
  '(?:\\d|\\d)'.repeat(40) + '#',
  '(?:\\d|\\d)+#',
  '(\\d+)+#',
  '(\\d|\\d\\d)+#',
  '(.*)*#',
  '((\\d{1,3}){1,5}){1,5}#',
  '\\d*\\d*\\d*\\d*\\d*\\d*\\d*\\d*#',
  '(?=(\\d?){30}#)|\\d?'.repeat(3) + '#',
  '(?<=x(?:\\d?){30}\\d{20})#',
  '(?=((?:.?){40}(?:\\d?){40}))(?:.?){60}(?:\\d?){60}#',
  '(?:.?){120}(?:\\d?){120}\\b#', // the worst found: ~every (instruction, position) pair, near the size cap
];
const ADVERSARIAL_NUMBERS = ['#' + '1'.repeat(63), '1'.repeat(63) + '#', '1'.repeat(41) + '#' + '1'.repeat(22), '1'.repeat(64), '#'.repeat(32) + '1'.repeat(32), '1#'.repeat(32)];
let worst = { ms: 0, steps: 0, pattern: '', number: '', size: 0 };
for (const source of ADVERSARIAL) {
  for (const anchored of [true, false]) {
    const regex = compileBoundedRegex(source, { anchored });
    for (const number of ADVERSARIAL_NUMBERS) {
      for (let i = 0; i < 20; i++) sink += regex.test(number) ? 1 : 0; // warm-up
      const counter = { steps: 0 };
      regex.exec(number, counter);
      let best = Infinity; // least disturbed of 20 runs
      for (let i = 0; i < 20; i++) {
        const t0 = process.hrtime.bigint();
        sink += regex.exec(number)?.index ?? 1;
        best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
      }
      if (best > worst.ms) worst = { ms: best, steps: counter.steps, pattern: anchored ? `^(?:${source})` : source, number, size: regex.programSize };
    }
  }
}
const backref = compileBoundedRegex('(\\d*)*\\1x#');
let budgetMs = Infinity;
for (let i = 0; i < 10; i++) {
  const t0 = process.hrtime.bigint();
  try {
    backref.exec('#x' + '1'.repeat(62));
  } catch (e) {
    if (!(e instanceof BoundedRegexError)) throw e;
  }
  budgetMs = Math.min(budgetMs, Number(process.hrtime.bigint() - t0) / 1e6);
}
const short = (s: string) => (s.length > 48 ? `${s.slice(0, 45)}…` : s);
console.log(`\nadversarial regexes (${ADVERSARIAL.length} patterns × ${ADVERSARIAL_NUMBERS.length} numbers of 64 characters, anchored and not):`);
console.log(`  worst: ${worst.ms.toFixed(3)} ms, ${worst.steps.toLocaleString('en-US')} steps (program of ${worst.size} instructions)  target ≤ 1 ms  ${worst.ms <= 1 ? 'OK' : 'OVER TARGET'}`);
console.log(`         /${short(worst.pattern)}/ on ${short(worst.number)}`);
console.log(`  with a back-reference: gives up after ${BACKREF_STEP_BUDGET.toLocaleString('en-US')} steps in ${budgetMs.toFixed(3)} ms (regex-budget)`);
if (sink === -1) console.log(sink); // keeps the loops from being optimised away
