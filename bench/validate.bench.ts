/**
 * `npm run bench:validate`: validate time for a generated 10,000-user configuration (500
 * groups, 50,000 authorizations, …), whole process, next to the time js-yaml takes just to
 * parse the same files (the floor). Target from issue #2: validate ≤ 2× the bare parse.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateConfig } from './generate.js';
import { ms, table, timeProcesses, type Timing } from './util.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const users = Number(process.env.BENCH_USERS ?? 10_000);
const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-bench-'));
try {
  const gen = generateConfig(dir, users);
  const env = { BENCH_CSTA_PASSWORD: 'bench-secret' };
  const [bare, validate] = timeProcesses([
    { cmd: process.execPath, args: [path.join(root, 'bench/bare-parse.mjs'), dir] },
    { cmd: process.execPath, args: [path.join(root, 'bin/switchboard.js'), 'validate', dir], env },
  ]) as [Timing, Timing];
  const ratio = validate.medianMs / bare.medianMs;
  process.stdout.write(
    `validate: ${gen.users} users, ${gen.files} files, ${(gen.bytes / 1e6).toFixed(1)} MB (median of ${bare.runs} runs, whole process)\n` +
      `${table([
        ['', 'median', 'min'],
        ['js-yaml bare parse (floor)', ms(bare.medianMs), ms(bare.minMs)],
        ['switchboard validate', ms(validate.medianMs), ms(validate.minMs)],
      ])}\n` +
      `ratio: ${ratio.toFixed(2)}× the bare parse (target ≤ 2.00×) ${ratio <= 2 ? 'OK' : 'OVER TARGET'}\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// Adversarial: 2,000 misspelt group members among 20,000 users. Every unresolved reference
// asks for a "did you mean" hint; before hints were bounded (issue #12) this took 207 s.
const typos = mkdtempSync(path.join(tmpdir(), 'switchboard-bench-'));
try {
  const h = (kind: string) => `apiVersion: switchboard/v1\nkind: ${kind}\n`;
  writeFileSync(path.join(typos, 'c.yaml'), `${h('Company')}name: acme\n---\n${h('Domain')}company: acme\nname: paris\n`);
  writeFileSync(path.join(typos, 'u.yaml'), `${h('User')}domain: acme/paris\nitems:\n${Array.from({ length: 20_000 }, (_, i) => `  - username: user${String(i).padStart(5, '0')}\n`).join('')}`);
  writeFileSync(path.join(typos, 'g.yaml'), `${h('Group')}domain: acme/paris\nname: All\nmembers:\n${Array.from({ length: 2_000 }, (_, i) => `  - usr${String(i).padStart(5, '0')}x\n`).join('')}`);
  const [t] = timeProcesses([{ cmd: process.execPath, args: [path.join(root, 'bin/switchboard.js'), 'validate', typos], expectStatus: 1 }], 3) as [Timing];
  process.stdout.write(
    `\nvalidate with 2,000 misspelt references among 20,000 users (median of ${t.runs} runs, whole process)\n` +
      `${table([
        ['', 'median', 'min'],
        ['before bounded hints (baseline)', '207000 ms', ''],
        ['switchboard validate', ms(t.medianMs), ms(t.minMs)],
      ])}\n`,
  );
} finally {
  rmSync(typos, { recursive: true, force: true });
}
