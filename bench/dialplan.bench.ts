// Dial-plan translation throughput with the fr preset, next to its floor (cleanUp alone).
// Run: npx tsx bench/dialplan.bench.ts [count]. Not a test: prints figures, asserts nothing.
import { cleanUp, compileDialPlan, isCompiled, lookupKey, resolveDialPlan, translate } from '../src/dialplan/index.js';

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
if (sink === -1) console.log(sink); // keeps the loops from being optimised away
