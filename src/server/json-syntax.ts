/**
 * Where a JSON text first breaks the grammar, for the 400 of a body that is not JSON.
 *
 * V8's `JSON.parse` messages sometimes give a position and sometimes quote the text around the
 * error instead ("Unexpected token 'x', "{"password": x" is not valid JSON"); a body may hold a
 * secret, so the server never repeats them. This scanner finds the position itself and says what
 * was expected there, in words that quote nothing. It runs only on a body the parser refused;
 * it keeps its own small stack, never recursion, so depth costs nothing.
 */

/** The first syntax error of `text`: its offset and what was expected there; undefined for valid JSON. */
export function jsonSyntaxError(text: string): { readonly at: number; readonly expected: string } | undefined {
  const n = text.length;
  let i = 0;
  const open: number[] = []; // char codes of the containers open: 0x7b '{' or 0x5b '['
  type State = 'value' | 'value-or-close' | 'key' | 'key-or-close' | 'after';
  let state: State = 'value';
  const fail = (expected: string) => ({ at: i, expected });
  for (;;) {
    while (i < n && (text.charCodeAt(i) === 0x20 || text.charCodeAt(i) === 0x0a || text.charCodeAt(i) === 0x0d || text.charCodeAt(i) === 0x09)) i++;
    if (i >= n) return state === 'after' && open.length === 0 ? undefined : fail('more: the body ends too early');
    const c = text.charCodeAt(i);
    if (state === 'after') {
      const top = open[open.length - 1];
      if (top === undefined) return fail('nothing after the JSON value');
      if (c === 0x2c) {
        i++;
        state = top === 0x7b ? 'key' : 'value';
      } else if ((top === 0x7b && c === 0x7d) || (top === 0x5b && c === 0x5d)) {
        i++;
        open.pop();
      } else return fail(top === 0x7b ? "',' or '}'" : "',' or ']'");
      continue;
    }
    if (state === 'key' || state === 'key-or-close') {
      if (state === 'key-or-close' && c === 0x7d) {
        i++;
        open.pop();
        state = 'after';
        continue;
      }
      if (c !== 0x22) return fail('a key in double quotes');
      const bad = scanString();
      if (bad) return bad;
      while (i < n && (text.charCodeAt(i) === 0x20 || text.charCodeAt(i) === 0x0a || text.charCodeAt(i) === 0x0d || text.charCodeAt(i) === 0x09)) i++;
      if (i >= n) return fail('more: the body ends too early');
      if (text.charCodeAt(i) !== 0x3a) return fail("':' after the key");
      i++;
      state = 'value';
      continue;
    }
    // A value (or, just after '[', the closing bracket).
    if (state === 'value-or-close' && c === 0x5d) {
      i++;
      open.pop();
      state = 'after';
    } else if (c === 0x7b || c === 0x5b) {
      open.push(c);
      i++;
      state = c === 0x7b ? 'key-or-close' : 'value-or-close';
    } else if (c === 0x22) {
      const bad = scanString();
      if (bad) return bad;
      state = 'after';
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      NUMBER.lastIndex = i;
      if (!NUMBER.test(text)) return fail('a number');
      i = NUMBER.lastIndex;
      state = 'after';
    } else {
      const literal = ['true', 'false', 'null'].find((l) => text.startsWith(l, i));
      if (!literal) return fail('a value (an object, array, string, number, true, false or null)');
      i += literal.length;
      state = 'after';
    }
  }

  /** A string from its opening quote at `i`; leaves `i` after the closing quote. */
  function scanString(): { at: number; expected: string } | undefined {
    i++;
    for (;;) {
      if (i >= n) return fail('the closing \'"\' of a string: the body ends too early');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return undefined;
      }
      if (c < 0x20) return fail('no control character inside a string (escape it)');
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return fail('four hex digits after \\u');
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else return fail('an escape: \\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX');
      } else i++;
    }
  }
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/** 1-based line and column of an offset. */
export function lineColumn(text: string, at: number): { readonly line: number; readonly column: number } {
  let line = 1;
  let start = 0;
  for (let k = text.indexOf('\n'); k !== -1 && k < at; k = text.indexOf('\n', k + 1)) {
    line++;
    start = k + 1;
  }
  return { line, column: at - start + 1 };
}
