/**
 * Golden files: for each case in test/fixtures/plan/<case>/ the plan is rendered as text,
 * markdown and JSON and compared with plan.txt, plan.md, plan.json. Update them explicitly
 * with `UPDATE_GOLDEN=1 npx vitest run test/plan/golden.test.ts`, never silently.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { makePlan } from '../../src/plan/planner.js';
import { renderText } from '../../src/render/text.js';
import { renderMarkdown } from '../../src/render/markdown.js';
import { fixtureRuntime, loadCase } from './fixture-runtime.js';
import { fixtureImpact } from './fixture-impact.js';

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
const ROOT = 'test/fixtures/plan';
const ENV = { CSTA_PASSWORD: 'old-secret', CSTA_PASSWORD_NEW: 'new-secret', SWITCHBOARD_ADMIN_PASSWORD: 'admin-secret' };
const update = process.env.UPDATE_GOLDEN === '1';

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
const validatePlan = ajv.compile(JSON.parse(readFileSync('schemas/plan.schema.json', 'utf8')));

function golden(file: string, actual: string): void {
  if (update || !existsSync(file)) {
    if (!update) throw new Error(`${file} does not exist: create it with UPDATE_GOLDEN=1`);
    writeFileSync(file, actual);
    return;
  }
  expect(actual).toBe(readFileSync(file, 'utf8'));
}

describe('plan golden files', () => {
  const cases = readdirSync(ROOT).filter((d) => existsSync(path.join(ROOT, d, 'desired')));
  it('has cases', () => expect(cases.length).toBeGreaterThanOrEqual(6));
  it.each(cases)('%s', async (name) => {
    const dir = path.join(ROOT, name);
    const { desired, live } = loadCase(dir, ENV);
    const plan = await makePlan(desired, fixtureRuntime(live, { impact: fixtureImpact }), { root: `fixtures/${name}`, now: new Date('2026-06-01T12:00:00.000Z') });
    const json = `${JSON.stringify(plan, null, 2)}\n`;
    expect(JSON.parse(json)).toEqual(plan); // a plain value
    expect(validatePlan(plan) ? [] : validatePlan.errors).toEqual([]);
    for (const secret of Object.values(ENV)) expect(json).not.toContain(secret);
    golden(path.join(dir, 'plan.json'), json);
    golden(path.join(dir, 'plan.txt'), renderText(plan, { colour: false }));
    golden(path.join(dir, 'plan.md'), renderMarkdown(plan));
  });
});
