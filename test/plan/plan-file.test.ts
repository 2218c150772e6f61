// A saved plan file is checked before anything renders or applies it: a truncated, edited,
// foreign or hostile file gets a clear refusal listing what is wrong, never an internal
// error or a stack overflow.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { planFileProblems } from '../../src/apply/plan-file.js';
import { renderMarkdown } from '../../src/render/markdown.js';
import { renderText } from '../../src/render/text.js';
import type { Plan } from '../../src/plan/types.js';
import { tempDir } from '../helpers.js';
import { prng } from '../prng.js';

const BIN = path.resolve('bin/switchboard.js');
const ENV = { PATH: process.env.PATH!, CSTA_PASSWORD: 'csta-secret', SWITCHBOARD_ADMIN_PASSWORD: 'admin-secret' };
const run = (cwd: string, args: string[]) => spawnSync(process.execPath, [BIN, ...args], { cwd, env: ENV, encoding: 'utf8' });

/** A real plan of the quickstart against a fresh embedded runtime. */
function realPlan(): { dir: string; text: string } {
  const dir = tempDir();
  cpSync(path.resolve('examples/quickstart'), path.join(dir, 'config'), { recursive: true });
  const r = run(dir, ['plan', 'config', '--out', 'plan.json']);
  expect(r.status).toBe(0);
  return { dir, text: readFileSync(path.join(dir, 'plan.json'), 'utf8') };
}

/** Replace one random node of `value` by a random value. */
function mutate(value: unknown, r: () => number): unknown {
  const nodes: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach((x, i) => (nodes.push({ parent: v, key: i }), walk(x)));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) nodes.push({ parent: v as Record<string, unknown>, key: k }), walk(x);
  };
  walk(value);
  const pick = nodes[Math.floor(r() * nodes.length)]!;
  const replacements: unknown[] = [null, 0, -1, 1.5, '', 'x', true, [], {}, [1, 'a'], { a: null }, JSON.parse('['.repeat(5000) + ']'.repeat(5000))];
  const choice = r();
  if (choice < 0.15 && !Array.isArray(pick.parent)) delete (pick.parent as Record<string, unknown>)[pick.key as string];
  else (pick.parent as Record<string, unknown>)[pick.key as string] = replacements[Math.floor(r() * replacements.length)];
  return value;
}

describe('saved plan files', () => {
  const { dir, text } = realPlan();

  it('a real plan has no problems, and applies', () => {
    expect(planFileProblems(JSON.parse(text))).toEqual([]);
    const r = run(dir, ['apply', 'plan.json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.each([
    ['nested 100,000 levels', `{"formatVersion":1,"changes":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, 'nested more than 64 levels deep'],
    ['the right envelope with nothing else', '{"formatVersion":1,"changes":[],"runtime":{"revision":0}}', 'plan.config: is missing'],
    ['another format version', '{"formatVersion":2}', 'formatVersion is 2, this switchboard reads plans of format version 1'],
    ['not an object', '[1,2]', 'not an object'],
    ['a change of an unknown kind and action', text.replace('"action": "create"', '"action": "upsert"').replace('"kind": "Company"', '"kind": "Compagny"'), 'plan.changes[0].kind: must be equal to one of the allowed values, found "Compagny"'],
  ])('%s: refused with what is wrong, never an internal error', (_name, content, expected) => {
    writeFileSync(path.join(dir, 'bad.json'), content);
    const r = run(dir, ['apply', 'bad.json']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('bad.json is not a Switchboard plan of format version 1 that can be applied');
    expect(r.stderr).toContain(expected);
    expect(r.stderr).not.toMatch(/internal error|call stack/);
  });

  it('2,000 random mutations of a real plan: each is refused with problems, or renders in text and markdown', () => {
    const r = prng(42);
    let refused = 0;
    for (let i = 0; i < Number(process.env.PLAN_FUZZ_RUNS ?? 2000); i++) {
      const plan = mutate(JSON.parse(text), r);
      const problems = planFileProblems(plan);
      if (problems.length > 0) {
        refused++;
        for (const p of problems) expect(p).toMatch(/^(plan|the file|formatVersion|[^:]+: nested)/);
        continue;
      }
      try {
        renderText(plan as Plan, { colour: false });
      } catch (e) {
        console.log(JSON.stringify(plan).slice(0, 3000));
        throw e;
      }
      expect(() => renderMarkdown(plan as Plan)).not.toThrow();
    }
    expect(refused).toBeGreaterThan(100);
  });
});
