import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { ChangeSetResult } from '../../src/runtime/types.js';
import { changeSet, creates, open, quickstart, tempDir } from './helpers.js';

const opened: Runtime[] = [];
afterEach(async () => {
  for (const rt of opened.splice(0)) await rt.close();
});
async function withQuickstart(): Promise<Runtime> {
  const rt = await open(tempDir());
  opened.push(rt);
  expect(rt.apply(changeSet(0, creates(quickstart())))).toMatchObject({ ok: true, revision: 1 });
  return rt;
}
const refused = (r: ChangeSetResult) => {
  if (r.ok) throw new Error('expected a refusal');
  return r;
};
const zoe = { domain: 'acme/paris', username: 'zoe', firstName: 'Zoé', devices: [{ number: '1010', protocol: 'CSTA' }] };

describe('ownership', () => {
  it('records the manager: config for plans, api for the API, the sync engine for imports', async () => {
    const rt = await withQuickstart();
    expect(rt.get('User', 'acme/paris/alice')!.manager).toBe('config');
    rt.apply(changeSet(1, [{ action: 'create', kind: 'User', id: 'acme/paris/zoe', body: zoe }], 'api'));
    expect(rt.get('User', 'acme/paris/zoe')).toMatchObject({ manager: 'api', updatedVia: 'api' });
    rt.apply(changeSet(2, [{ action: 'create', kind: 'User', id: 'acme/paris/yann', body: { domain: 'acme/paris', username: 'yann' } }], 'sync', 'import:ad'));
    expect(rt.get('User', 'acme/paris/yann')).toMatchObject({ manager: 'import:ad', updatedBy: 'import:ad', updatedVia: 'sync' });
    rt.apply(changeSet(3, [{ action: 'create', kind: 'User', id: 'acme/paris/xena', body: { domain: 'acme/paris', username: 'xena' }, manager: 'directory:corp' }], 'sync'));
    expect(rt.get('User', 'acme/paris/xena')!.manager).toBe('directory:corp');
    const r = refused(rt.apply(changeSet(4, [{ action: 'create', kind: 'User', id: 'acme/paris/will', body: { domain: 'acme/paris', username: 'will' }, manager: 'someone' as 'api' }], 'api')));
    expect(r.problems[0]!.message).toMatch(/manager must be/);
  });

  it('a plan never updates or deletes what an import manages', async () => {
    const rt = await withQuickstart();
    rt.apply(changeSet(1, [{ action: 'create', kind: 'User', id: 'acme/paris/zoe', body: zoe }], 'sync', 'import:x'));
    const del = refused(rt.apply(changeSet(2, [{ action: 'delete', kind: 'User', id: 'acme/paris/zoe' }])));
    expect(del).toMatchObject({ code: 'not-managed', problems: [{ code: 'not-managed', kind: 'User', id: 'acme/paris/zoe' }] });
    expect(del.problems[0]!.message).toMatch(/managed by import:x, not config: a plan never deletes what it does not manage/);
    const upd = refused(rt.apply(changeSet(2, [{ action: 'update', kind: 'User', id: 'acme/paris/zoe', body: { ...zoe, firstName: 'Z' } }])));
    expect(upd.code).toBe('not-managed');
    expect(rt.get('User', 'acme/paris/zoe')!.body.firstName).toBe('Zoé');
    // The import itself, and the API, may.
    expect(rt.apply(changeSet(2, [{ action: 'update', kind: 'User', id: 'acme/paris/zoe', body: { ...zoe, firstName: 'Z' } }], 'sync', 'import:x'))).toMatchObject({ ok: true });
    expect(rt.get('User', 'acme/paris/zoe')).toMatchObject({ manager: 'import:x' });
    expect(rt.get('User', 'acme/paris/zoe')!.drifted).toBeUndefined();
    expect(rt.apply(changeSet(3, [{ action: 'delete', kind: 'User', id: 'acme/paris/zoe' }], 'api'))).toMatchObject({ ok: true });
  });

  it('a plan cannot create over an existing resource of another manager', async () => {
    const rt = await withQuickstart();
    rt.apply(changeSet(1, [{ action: 'create', kind: 'User', id: 'acme/paris/zoe', body: zoe }], 'api'));
    const r = refused(rt.apply(changeSet(2, [{ action: 'create', kind: 'User', id: 'acme/paris/zoe', body: zoe }])));
    expect(r.problems[0]!.message).toMatch(/already exists \(managed by api\)/);
  });

  it('an API edit of a config resource keeps it config-managed and drifted; the next plan write clears drift', async () => {
    const rt = await withQuickstart();
    const alice = rt.get('User', 'acme/paris/alice')!;
    expect(rt.apply(changeSet(1, [{ action: 'update', kind: 'User', id: alice.id, body: { ...alice.body, firstName: 'Ally' } }], 'api', 'admin'))).toMatchObject({ ok: true });
    expect(rt.get('User', alice.id)).toMatchObject({ manager: 'config', drifted: true, updatedBy: 'admin', updatedVia: 'api' });
    // Drift survives a reopen (it is stored).
    const reopened = await open(rt.dataDir);
    opened.push(reopened);
    expect(reopened.get('User', alice.id)!.drifted).toBe(true);
    expect(rt.apply(changeSet(2, [{ action: 'update', kind: 'User', id: alice.id, body: alice.body }]))).toMatchObject({ ok: true });
    expect(rt.get('User', alice.id)).toMatchObject({ manager: 'config', updatedVia: 'plan', body: { firstName: 'Alice' } });
    expect(rt.get('User', alice.id)!.drifted).toBeUndefined();
  });
});
