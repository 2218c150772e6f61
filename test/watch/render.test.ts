/**
 * The text output of `switchboard watch`: one line per cycle, details (diagnostics, held
 * changes, out-of-band changes, refusals) indented under it; held changes and warnings
 * listed when they change, not on every cycle.
 */
import { describe, expect, it } from 'vitest';
import { terminalHost } from '../../src/cli/watch.js';
import { renderCycleText, type CycleEvent } from '../../src/watch/events.js';

const at = new Date(2026, 4, 4, 9, 15, 40).toISOString();
const base: CycleEvent = { type: 'cycle', cycle: 2, trigger: 'files', at, files: ['config/users.yaml'], parsed: 1, outcome: 'no-changes', held: [], drift: [], durationMs: 21, timings: {} };
const heldZoe = { action: 'delete', kind: 'User', id: 'acme/paris/zoe', reason: 'destroy-not-allowed', message: 'watch deletes a User only with --allow-destroy=User' } as const;

describe('renderCycleText', () => {
  it.each<[string, Partial<CycleEvent>, string]>([
    ['applied', { outcome: 'applied', plan: { create: 1, update: 2, replace: 0, delete: 0 }, applied: 3, revision: 7 }, '09:15:40 #2 files (config/users.yaml) · plan +1 ~2 ∓0 -0 · applied 3 changes → revision 7 · 21 ms'],
    ['no changes', { outcome: 'no-changes', plan: { create: 0, update: 0, replace: 0, delete: 0 }, revision: 7 }, '09:15:40 #2 files (config/users.yaml) · no changes · revision 7 · 21 ms'],
    ['many files', { files: ['a.yaml', 'b.yaml', 'c.yaml', 'd.yaml', 'e.yaml'], outcome: 'no-changes', revision: 7 }, '09:15:40 #2 files (a.yaml, b.yaml, c.yaml +2 more) · no changes · revision 7 · 21 ms'],
    ['unchanged resync', { trigger: 'resync', files: [], outcome: 'unchanged', revision: 7 }, '09:15:40 #2 resync · nothing changed, revision 7 · 21 ms'],
    ['HEAD moved', { trigger: 'head', git: { commit: '0123456789abcdef0123', dirty: false }, outcome: 'no-changes', revision: 7 }, '09:15:40 #2 HEAD moved to 0123456789ab (config/users.yaml) · no changes · revision 7 · 21 ms'],
    [
      'unreachable',
      { trigger: 'retry', files: [], outcome: 'failed', failure: { message: 'fetch failed', unreachable: true, attempt: 3, retryInMs: 4000 } },
      '09:15:40 #2 retry · runtime unreachable: fetch failed; retrying in 4 s (attempt 3) · 21 ms',
    ],
  ])('%s', (_name, e, line) => {
    expect(renderCycleText({ ...base, ...e })).toBe(line);
  });

  it('an invalid tree: its diagnostics as validate prints them', () => {
    const text = renderCycleText({
      ...base,
      outcome: 'invalid',
      errors: 1,
      revision: 7,
      diagnostics: [{ severity: 'error', code: 'unknown-field', message: "unknown field 'fristName' in User. Did you mean 'firstName'?", file: 'config/users.yaml', line: 9, column: 5 }],
    });
    expect(text).toBe(
      "09:15:40 #2 files (config/users.yaml) · invalid: 1 error, nothing applied (runtime stays at revision 7) · 21 ms\n  config/users.yaml:9:5: error: unknown field 'fristName' in User. Did you mean 'firstName'? [unknown-field]",
    );
  });

  it('held changes, drift and refusals as details', () => {
    const text = renderCycleText(
      {
        ...base,
        trigger: 'resync',
        files: [],
        outcome: 'refused',
        plan: { create: 1, update: 1, replace: 0, delete: 1 },
        revision: 9,
        held: [heldZoe],
        drift: [{ kind: 'User', id: 'acme/paris/alice', action: 'update', actor: 'mallory', via: 'api', revision: 8, at: '2026-05-04T09:15:00.000Z', reverted: false }],
        refusal: { code: 'invalid', message: 'the change set breaks 1 invariant', problems: [{ code: 'extension-conflict', message: 'extension 1001 is used twice', kind: 'User', id: 'acme/paris/yann', path: 'devices.0.number' }] },
      },
      { showHeld: true },
    );
    expect(text.split('\n')).toEqual([
      '09:15:40 #2 resync · plan +1 ~1 ∓0 -1 · refused by the runtime (invalid), nothing applied: the change set breaks 1 invariant · 1 held · 1 out-of-band change found · 21 ms',
      '  drift: ~ User acme/paris/alice changed by mallory (api, revision 8, 2026-05-04T09:15:00.000Z): left as is (--no-self-heal)',
      '  held: - delete User acme/paris/zoe: watch deletes a User only with --allow-destroy=User',
      '  - User acme/paris/yann devices.0.number: extension 1001 is used twice [extension-conflict]',
    ]);
  });
});

describe('terminalHost', () => {
  it('lists held changes and warnings when they change, not on every cycle', () => {
    let out = '';
    const host = terminalHost({ stdout: { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream }, 'text');
    const warning = { severity: 'warning' as const, code: 'secret-literal', message: 'literal secret', file: 'config/links.yaml', line: 3, column: 1 };
    const cycle = (n: number, e: Partial<CycleEvent>) => host.emit({ ...base, cycle: n, outcome: 'no-changes', revision: 7, ...e });
    cycle(1, { held: [heldZoe], diagnostics: [warning], warnings: 1 });
    cycle(2, { held: [heldZoe], diagnostics: [warning], warnings: 1 });
    cycle(3, { outcome: 'failed', failure: { message: 'x', unreachable: false, attempt: 1, retryInMs: 1000 } });
    cycle(4, { held: [heldZoe], diagnostics: [warning], warnings: 1 });
    cycle(5, { held: [] });
    const lines = out.trimEnd().split('\n');
    expect(lines.filter((l) => l.startsWith('  held:'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('secret-literal'))).toHaveLength(1);
    expect(lines.filter((l) => / #\d /.test(l))).toHaveLength(5);
    expect(lines.at(-1)).toMatch(/#5 files .* no changes · revision 7 · 21 ms$/);
  });
});
