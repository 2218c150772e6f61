// Directory field expressions' `p:` regular expressions run on the dial plan's bounded matcher
// (src/dialplan/matcher.ts), never on V8's backtracking engine: an administrator's pattern
// cannot hang a synchronization (or the server running it).
import { describe, expect, it } from 'vitest';
import { contactsOf, parseFieldExpression, sourceRow } from '../../src/sync/directory.js';

const directory = (phone: string) => ({ domain: 'acme/paris', name: 'D', serverType: 'CSV', fields: { identifier: 'id', lastName: 'sn', businessPhone: phone } });

describe('p: regular expressions are bounded', () => {
  it.each([
    ['40 optional digits then #', `tel|p:9{0}::^${'\\d?'.repeat(40)}${'\\d'.repeat(40)}#$`],
    ['nested repetition', 'tel|p:9{0}::^(\\d+)+#$'],
    ['overlapping alternatives', 'tel|p:9{0}::^(?:\\d|\\d)*#$'],
  ])('%s on a 60-digit value: the run finishes, the value is simply not rewritten', (_name, expression) => {
    const rows = [sourceRow('line 2', { id: '1', sn: 'Martin', tel: '1'.repeat(60) })];
    const { contacts, notes } = contactsOf(directory(expression), rows);
    expect(notes).toEqual([]);
    expect(contacts[0]!.fields.businessPhone).toBe('1'.repeat(60));
  });

  it('a pattern with a back-reference that exhausts its step budget leaves the value out with a warning naming the row', () => {
    const rows = [sourceRow('line 2', { id: '1', sn: 'Martin', tel: `#x${'1'.repeat(62)}` }), sourceRow('line 3', { id: '2', sn: 'Petit', tel: '1234' })];
    const { contacts, notes } = contactsOf(directory('tel|p:9{0}::(\\d*)*\\1x#'), rows);
    expect(notes.map((n) => n.message)).toEqual([expect.stringMatching(/^line 2: businessPhone: the p: regular expression of "tel" gave up on this value \(.*\): left out$/)]);
    expect(contacts.map((c) => c.fields.businessPhone)).toEqual([undefined, '1234']);
  });

  it('a pattern outside the supported subset is refused when the expression is read, with the reason', () => {
    expect(() => parseFieldExpression('tel|p:9{0}::(?i)^abc')).toThrow(/the p: regular expression is not valid: inline options such as "\(\?i\)"/);
    expect(() => parseFieldExpression('tel|p:9{0}::^[0-9{4}$')).toThrow(/a '\[' is never closed/);
  });

  it('a matching pattern still rewrites', () => {
    const { contacts } = contactsOf(directory('tel|p:9{0}::^[0-9]{4}$'), [sourceRow('line 2', { id: '1', sn: 'Martin', tel: '1234' })]);
    expect(contacts[0]!.fields.businessPhone).toBe('91234');
  });
});
