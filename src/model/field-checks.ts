/**
 * What a field value must look like, decided once for every way a value enters Switchboard:
 * the schemas (the runtime's and `validate`'s ajv registers {@link EMAIL_PATTERN} as the
 * `email` format) and the sync engines (user imports and directories check each source value
 * with the same functions, and drop a bad one with a warning). So an import can never produce
 * a value the runtime refuses, and a value the runtime refuses never blocks a whole import.
 *
 * Each check returns the reason a value is refused (to put in a message after the field's
 * name), or undefined when it is fine. Pure: no I/O, no dependencies.
 */

/**
 * An e-mail address: an RFC 5322 dot-atom local part, `@`, a dotted host name (ASCII; an
 * internationalized domain must be written in its `xn--` form). This is ajv-formats' "full"
 * `email` format, which the schemas used before it moved here: config that validated still
 * validates. Linear on the bounded input (length is checked first).
 */
export const EMAIL_PATTERN = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/i;

/** The longest e-mail address (RFC 5321's path limit less the angle brackets); the schemas' `maxLength`. */
export const EMAIL_MAX_LENGTH = 254;

/** The longest user first or last name (the User schema's `maxLength`). */
export const NAME_MAX_LENGTH = 128;

/** The longest phone number as people type it (the schemas' `phoneNumber` `maxLength`). */
export const PHONE_MAX_LENGTH = 64;

/** The longest free-text value a sync stores (a contact's company, address, private field, a user's reserved field). */
export const TEXT_MAX_LENGTH = 4096;

/** Length in code points, as JSON Schema's `maxLength` counts. */
export function codePoints(v: string): number {
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < v.length) {
      const d = v.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** The first `max` code points of `v` (never half of a surrogate pair). */
export function clipCodePoints(v: string, max: number): string {
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    if (n === max) return v.slice(0, i);
    const c = v.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < v.length) {
      const d = v.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return v;
}

/**
 * The first character that has no place in text a person reads: a C0 or C1 control character
 * (tab, line feed and carriage return allowed only when `multiline`), DEL, a lone surrogate
 * (half of a character: the sign of a cut or mis-decoded string), U+FFFE/U+FFFF. Returned as
 * its description (`U+0007`), or undefined.
 */
export function controlCharacter(v: string, multiline = false): string | undefined {
  if (!SUSPECT.test(v)) return undefined; // the common case, natively
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x20) {
      if (multiline && (c === 0x09 || c === 0x0a || c === 0x0d)) continue;
      return describeChar(c, 'a control character');
    }
    if (c >= 0x7f && c <= 0x9f) return describeChar(c, 'a control character');
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = i + 1 < v.length ? v.charCodeAt(i + 1) : 0;
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
      return describeChar(c, 'half of a character (lone surrogate)');
    }
    if (c >= 0xdc00 && c <= 0xdfff) return describeChar(c, 'half of a character (lone surrogate)');
    if (c === 0xfffe || c === 0xffff) return describeChar(c, 'a non-character');
  }
  return undefined;
}

/** Anything {@link controlCharacter} may refuse (it then looks closer: a surrogate may be half of a pair). */
const SUSPECT = /[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]/;

const describeChar = (c: number, what: string) => `${what} U+${c.toString(16).toUpperCase().padStart(4, '0')}`;

/** Why `v` is not a valid e-mail address, or undefined. */
export function emailProblem(v: string): string | undefined {
  if (v.length > EMAIL_MAX_LENGTH) return `is longer than ${EMAIL_MAX_LENGTH} characters`;
  if (!EMAIL_PATTERN.test(v)) {
    const bad = controlCharacter(v);
    return bad ? `holds ${bad}` : 'is not a valid e-mail address (name@host.tld, ASCII; an internationalized domain in its xn-- form)';
  }
  return undefined;
}

/** Why `v` cannot be a person's first or last name, or undefined (too long: cut it with {@link clipCodePoints}). */
export function nameProblem(v: string): string | undefined {
  const bad = controlCharacter(v);
  return bad ? `holds ${bad}` : undefined;
}

/** Why `v` cannot be stored as free text of at most `max` code points, or undefined. */
export function textProblem(v: string, max = TEXT_MAX_LENGTH, multiline = true): string | undefined {
  const bad = controlCharacter(v, multiline);
  if (bad) return `holds ${bad}`;
  if (v.length > max && codePoints(v) > max) return `is longer than ${max} characters`;
  return undefined;
}

/**
 * Unicode format characters (bidi marks and embeddings, zero-width spaces, a BOM): what Windows
 * and Outlook wrap around a copied number. They are invisible, so a number is stored without them.
 */
export function withoutFormatCharacters(v: string): string {
  return NON_ASCII.test(v) ? v.replace(/\p{Cf}/gu, '') : v; // every format character is outside ASCII
}

const NON_ASCII = /[^\x00-\x7f]/;

const PHONE = /^[0-9+()./\s*#-]+$/;

/**
 * Why `v` (without format characters, see {@link withoutFormatCharacters}) is not a phone
 * number as people type it, or undefined: digits with spaces, `+ ( ) . - /`, `*` and `#`, at
 * least one digit, at most {@link PHONE_MAX_LENGTH} characters. Anything else (`poste 12`,
 * two numbers in one value, `n/a`) would change the digits a caller is matched by.
 */
export function phoneProblem(v: string): string | undefined {
  if (v.length > PHONE_MAX_LENGTH) return `is longer than ${PHONE_MAX_LENGTH} characters`;
  if (!PHONE.test(v)) {
    const bad = controlCharacter(v);
    return bad ? `holds ${bad}` : 'is not a phone number (digits, spaces and + ( ) . - / * # only)';
  }
  if (!/[0-9]/.test(v)) return 'has no digit';
  return undefined;
}

/** The largest photo a sync stores, in bytes (Active Directory's own limit for `thumbnailPhoto`). */
export const PHOTO_MAX_BYTES = 100 * 1024;

/** The longest photo URL (http, https). */
export const PHOTO_URL_MAX_LENGTH = 2048;

const DATA_URL = /^data:image\/(?:jpeg|png|gif);base64,([A-Za-z0-9+/]*={0,2})$/;

/**
 * Why `v` cannot be a contact's photo, or undefined: a photo is an `http(s)://` URL (at most
 * {@link PHOTO_URL_MAX_LENGTH} characters) or a `data:image/jpeg|png|gif;base64,…` URL of at
 * most {@link PHOTO_MAX_BYTES} bytes.
 */
export function photoProblem(v: string): string | undefined {
  if (v.startsWith('data:')) {
    if (v.length > PHOTO_MAX_BYTES * 2) return `is over the ${PHOTO_MAX_BYTES / 1024} KiB limit for a photo`;
    const m = DATA_URL.exec(v);
    if (!m) return 'is not a data:image/jpeg, png or gif base64 URL';
    const bytes = Math.floor((m[1]!.length * 3) / 4) - (m[1]!.endsWith('==') ? 2 : m[1]!.endsWith('=') ? 1 : 0);
    return bytes > PHOTO_MAX_BYTES ? `is ${Math.ceil(bytes / 1024)} KiB, over the ${PHOTO_MAX_BYTES / 1024} KiB limit for a photo` : undefined;
  }
  if (!/^https?:\/\/\S+$/i.test(v) || controlCharacter(v)) return 'is not a picture URL (http://, https:// or data:image/…;base64,)';
  if (v.length > PHOTO_URL_MAX_LENGTH) return `is longer than ${PHOTO_URL_MAX_LENGTH} characters`;
  return undefined;
}

/**
 * A CSV directory's `connection.path`: relative to the folder the runtime reads CSV files from
 * (its `files/` folder), and staying inside it — the runtime refuses anything else, and so does
 * `validate`, at the field. Symbolic links are checked when the file is read.
 */
export function csvPathProblem(v: string): string | undefined {
  if (v.startsWith('/') || v.startsWith('\\') || /^[A-Za-z]:/.test(v)) return 'is an absolute path: give the path relative to the folder CSV directories are read from (the runtime\'s files/ folder)';
  if (v.split(/[\\/]/).includes('..')) return 'climbs out with "..": CSV files are read only from inside the folder CSV directories are read from (the runtime\'s files/ folder)';
  if (v.includes('\0')) return 'contains a NUL character';
  return undefined;
}
