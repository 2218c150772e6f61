/** Renderer behaviour beyond the golden files: colour, compaction, the markdown size cap. */
import { describe, expect, it } from 'vitest';
import { makePlan } from '../../src/plan/planner.js';
import { renderText } from '../../src/render/text.js';
import { renderMarkdown } from '../../src/render/markdown.js';
import { validateConfig } from '../../src/validate/validate.js';
import { processSecretSource } from '../../src/config/secrets.js';
import { generateConfig } from '../../bench/generate.js';
import { tempDir } from '../helpers.js';
import { fixtureRuntime } from './fixture-runtime.js';
import { fixtureImpact } from './fixture-impact.js';
import type { Plan } from '../../src/plan/types.js';

async function bigPlan(users: number): Promise<Plan> {
  const dir = tempDir();
  generateConfig(dir, users);
  const r = validateConfig(dir, { secrets: processSecretSource({ BENCH_CSTA_PASSWORD: 'x' }) });
  expect(r.ok).toBe(true);
  return makePlan(r.state, fixtureRuntime({ revision: 0, resources: [] }, { impact: fixtureImpact }), { root: 'big', now: new Date(0) });
}

describe('renderers', async () => {
  const plan = await bigPlan(1000);

  it('text: compact for large plans, with counts per kind and "… and N more"', () => {
    const text = renderText(plan, { colour: false });
    expect(text.split('\n').length).toBeLessThan(250);
    expect(text).toContain('… and 980 more User changes');
    expect(text).toMatch(/By kind:\n(.|\n)*User +\+1000/);
    expect(plan.summary.create).toBe(6061); // 1 company, 5 licences, 1 domain, dial plan, link, directory, intercom group, 50 groups, 1,000 users, 5,000 authorizations
    expect(text).toContain('Plan: 6061 to create, 0 to update, 0 to replace, 0 to delete.');
  });

  it('text: colour only when asked', () => {
    expect(renderText(plan, { colour: false })).not.toContain('\u001b[');
    expect(renderText(plan, { colour: true })).toContain('\u001b[32m+ create');
  });

  it('markdown: summary first, collapsible sections, under the size cap with a note', () => {
    const md = renderMarkdown(plan, 8_000);
    expect(md.startsWith('### Plan: 6061 to create')).toBe(true);
    expect(md.length).toBeLessThanOrEqual(8_000);
    expect(md).toMatch(/> Truncated: \d+ of \d+ sections left out to stay under 8,000 characters/);
    const full = renderMarkdown(plan);
    expect(full.length).toBeLessThanOrEqual(60_000);
    expect(full).toContain('<details><summary>company00 — User: 1000 create</summary>');
  });
});
