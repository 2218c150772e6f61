/**
 * Every code a user can meet is documented: validation diagnostics (src/config, src/schema,
 * src/validate, src/dialplan) in docs/validation.md, plan warnings and safety refusals
 * (src/plan) in docs/plan.md.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.generated.ts') ? [path.join(dir, e.name)] : []));
}

function codesIn(dirs: readonly string[]): Set<string> {
  const codes = new Set<string>();
  for (const f of dirs.flatMap(sources)) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/(?:\berror|\bwarning|ctx\.error|ctx\.warning|push\w*|report)\(\s*'([a-z0-9]+(?:-[a-z0-9]+)+)'/g)) codes.add(m[1]!);
    for (const m of text.matchAll(/\bcode: '([a-z0-9]+(?:-[a-z0-9]+)+)'/g)) codes.add(m[1]!);
  }
  return codes;
}

describe('docs/validation.md', () => {
  const doc = readFileSync('docs/validation.md', 'utf8');
  const codes = codesIn(['src/config', 'src/schema', 'src/validate', 'src/dialplan']);
  const problemCodes = /export type DialPlanProblemCode =([^;]+);/.exec(readFileSync('src/dialplan/types.ts', 'utf8'))![1]!;
  for (const m of problemCodes.matchAll(/'([a-z-]+)'/g)) codes.add(m[1]!);
  it('finds the codes in the source', () => {
    expect(codes.size).toBeGreaterThan(50);
    expect(codes).toContain('extension-conflict');
    expect(codes).toContain('regex-too-large');
  });
  it.each([...codes].sort())('documents %s', (code) => {
    expect(doc).toContain(`\`${code}\``);
  });
});

describe('docs/plan.md', () => {
  const doc = readFileSync('docs/plan.md', 'utf8');
  const codes = codesIn(['src/plan']);
  for (const m of readFileSync('src/plan/safety.ts', 'utf8').matchAll(/'(mass-delete|destroy-kind|protected)'/g)) codes.add(m[1]!);
  it('finds the codes in the source', () => {
    expect(codes).toContain('declared-but-unmanaged');
    expect(codes).toContain('mass-delete');
  });
  it.each([...codes].sort())('documents %s', (code) => {
    expect(doc).toContain(`\`${code}\``);
  });
});

describe('docs/runtime.md', () => {
  const doc = readFileSync('docs/runtime.md', 'utf8');
  const codes = codesIn(['src/runtime']);
  for (const m of readFileSync('src/runtime/types.ts', 'utf8').matchAll(/'(stale|invalid|forbidden|not-found|exists|not-managed)'/g)) codes.add(m[1]!);
  it.each([...codes].sort())('documents %s', (code) => {
    expect(doc).toContain(`\`${code}\``);
  });
});
