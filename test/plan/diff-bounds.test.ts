// Aligning two lists of mappings costs (length × edits): past MAX_ALIGNED_EDITS edits the
// differ pairs items by position instead, so a huge list changed throughout cannot make a
// plan take minutes (a 5,000-rule list changed throughout took 5.9 s to align, 20,000 would
// take over a minute and a half).
import { describe, expect, it } from 'vitest';
import { fieldChanges, MAX_ALIGNED_EDITS } from '../../src/plan/diff.js';

const rules = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ({ priority: i, value: `${tag}${i}` }));

describe('list alignment is bounded', () => {
  it('an insertion in a long list is still one added item (within the bound)', () => {
    const before = rules(20_000, 'x');
    const after = [...before.slice(0, 5), { priority: -1, value: 'new' }, ...before.slice(5)];
    expect(fieldChanges({ outgoing: before }, { outgoing: after })).toEqual([{ path: 'outgoing[5]', after: { priority: -1, value: 'new' } }]);
  });

  it('past the bound, items are paired by position and compared field by field', () => {
    const n = MAX_ALIGNED_EDITS * 40;
    const changes = fieldChanges({ outgoing: rules(n, 'x') }, { outgoing: [...rules(n, 'y'), { priority: n, value: 'extra' }] });
    expect(changes).toHaveLength(n + 1);
    expect(changes[0]).toEqual({ path: 'outgoing[0].value', before: 'x0', after: 'y0' });
    expect(changes[n - 1]).toEqual({ path: `outgoing[${n - 1}].value`, before: `x${n - 1}`, after: `y${n - 1}` });
    expect(changes[n]).toEqual({ path: `outgoing[${n}]`, after: { priority: n, value: 'extra' } });
  });
});
