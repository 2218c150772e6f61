/**
 * A CSV directory's file, read strictly: a file that is not what it claims to be is refused
 * as a whole, with every problem and its line, before anything is synchronized.
 *
 *   1. Bytes. At most {@link CSV_MAX_BYTES}. An empty file, a ZIP archive (an `.xlsx` or
 *      `.ods` workbook renamed `.csv`), an Excel 97–2003 workbook, a PDF, or bytes with NULs
 *      (binary, or UTF-16 read as UTF-8) are refused with what the file is and how to export
 *      a CSV instead.
 *   2. Characters. Decoded in the directory's `encoding` with nothing replaced: invalid UTF-8
 *      is refused with its line and "set encoding: windows-1252" (what Excel and Outlook write
 *      on French Windows); a Windows-1252 or latin1 setting on a file that is valid UTF-8 with
 *      accents is refused too ("set encoding: utf-8"), as it would store mojibake ("Ã©").
 *      Windows-1252 goes through iconv-lite: Node's TextDecoder('windows-1252') is latin1.
 *   3. Rows. csv-parse (RFC 4180) with every row as long as the header: a stray quote, an
 *      unquoted delimiter, a quote never closed — each malformed row is reported with its
 *      line, and none is used. Blank lines are skipped; quoted fields may hold delimiters,
 *      quotes (doubled) and line breaks.
 *   4. Header. Every column the mapping names (field expressions, red list) must be in the
 *      header — exactly, or by a case-insensitive match that is unique — else the error lists
 *      what is missing, what the header has, and whether the delimiter looks wrong.
 */
import { readFileSync, statSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import iconv from 'iconv-lite';
import { closest } from '../util/suggest.js';
import type { ImportNote } from './user-import.js';
import type { SourceRead, SourceRow } from './directory.js';

/** Encodings a CSV directory may declare (`connection.encoding`). */
export type CsvEncoding = 'utf-8' | 'windows-1252' | 'latin1' | 'utf-16le';

/** The largest CSV file read, in bytes. */
export const CSV_MAX_BYTES = 100 * 1024 * 1024;

/** The longest field, in characters: a longer one is a quote that never closes. */
export const CSV_MAX_FIELD = 100_000;

/** Malformed rows listed in one error (the count says how many more). */
const MAX_LISTED = 20;

export interface CsvOptions {
  /** The file as the configuration names it, for messages. */
  readonly name: string;
  readonly delimiter: string;
  readonly encoding: CsvEncoding;
  /** Splits a cell into several values (Google Contacts exports write ` ::: `). */
  readonly valueSeparator?: string;
  /** The columns the mapping reads, and which setting reads each (for messages). */
  readonly columns: readonly { readonly name: string; readonly by: string }[];
}

/** A CSV file that cannot be synchronized; `problems` lists each, with its line where there is one. */
export class CsvError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    const listed = problems.slice(0, MAX_LISTED).join('; ');
    const more = problems.length > MAX_LISTED ? `; and ${problems.length - MAX_LISTED} more` : '';
    super(`${file}: ${listed}${more}`);
    this.name = 'CsvError';
  }
}

/** Read and check a CSV file: its rows, or a {@link CsvError} that names every problem. */
export function readCsvFile(path: string, o: CsvOptions): SourceRead {
  const size = statSync(path).size;
  if (size > CSV_MAX_BYTES) throw new CsvError(o.name, [`the file is ${Math.ceil(size / 1048576)} MiB, over the ${CSV_MAX_BYTES / 1048576} MiB limit for a CSV directory: split it, or use an LDAP source`]);
  return parseCsvBytes(readFileSync(path), o);
}

/** {@link readCsvFile} on bytes already read. */
export function parseCsvBytes(bytes: Buffer, o: CsvOptions): SourceRead {
  const text = decode(bytes, o);
  const { header, records } = parseRecords(text, o);
  const columns = mapColumns(header, o);
  const rows: SourceRow[] = records.map(({ line, record }) => {
    const values = new Map<string, readonly string[]>();
    for (const [name, index] of columns) {
      const cell = record[index] ?? '';
      const list = (o.valueSeparator ? cell.split(o.valueSeparator) : [cell]).filter((v) => v.trim() !== '');
      if (list.length === 0) continue;
      values.set(name, list);
      if (!values.has(name.toLowerCase())) values.set(name.toLowerCase(), list);
    }
    return { where: `${o.name} line ${line}`, values };
  });
  const notes: ImportNote[] = [];
  return rows.length === 0 ? { rows, notes, empty: `${o.name} has a header line and no rows` } : { rows, notes };
}

// ---------------------------------------------------------------------------------------
// Bytes and characters

const startsWith = (b: Buffer, magic: readonly number[]) => magic.every((x, i) => b[i] === x);

/** What a binary file is, when it is a kind people export by mistake. */
function binaryKind(b: Buffer): string | undefined {
  if (startsWith(b, [0x50, 0x4b, 0x03, 0x04])) return 'a ZIP archive — an Excel (.xlsx) or OpenDocument (.ods) workbook renamed .csv? Open it and save it as "CSV UTF-8 (comma delimited)"';
  if (startsWith(b, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])) return 'an Excel 97–2003 workbook (.xls) renamed .csv: open it and save it as "CSV UTF-8 (comma delimited)"';
  if (startsWith(b, [0x25, 0x50, 0x44, 0x46, 0x2d])) return 'a PDF document, not a CSV file';
  return undefined;
}

/** 1-based line of byte `offset` (line feeds before it). */
function lineOfByte(b: Buffer, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < b.length; i++) if (b[i] === 0x0a) line++;
  return line;
}

const hex = (n: number) => `0x${n.toString(16).toUpperCase().padStart(2, '0')}`;

/** Offset of the first byte that is not part of valid UTF-8 (RFC 3629: no overlong forms, no surrogates, ≤ U+10FFFF), or -1. */
export function firstInvalidUtf8(b: Buffer): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let n: number;
    let min: number;
    if (c >= 0xc2 && c <= 0xdf) (n = 1), (min = 0x80);
    else if (c >= 0xe0 && c <= 0xef) (n = 2), (min = 0x800);
    else if (c >= 0xf0 && c <= 0xf4) (n = 3), (min = 0x10000);
    else return i;
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return -1;
}

/** Bytes in Windows-1252 that are no character (iconv-lite turns them into U+FFFD). */
const CP1252_UNDEFINED = new Set([0x81, 0x8d, 0x8f, 0x90, 0x9d]);

function decode(b: Buffer, o: CsvOptions): string {
  const fail = (problem: string): never => {
    throw new CsvError(o.name, [problem]);
  };
  if (b.length === 0) fail('the file is empty: a CSV directory needs a header line and rows');
  const kind = binaryKind(b);
  if (kind) fail(`the file is ${kind}`);
  const utf16Bom = startsWith(b, [0xff, 0xfe]) || startsWith(b, [0xfe, 0xff]);
  if (o.encoding === 'utf-16le') {
    if (startsWith(b, [0xfe, 0xff])) fail('the file is UTF-16 big-endian: save it as UTF-8 (and remove the encoding setting) or as UTF-16 little-endian');
    if (b.length % 2 !== 0) fail('the file has an odd number of bytes, so it is not UTF-16: set encoding: utf-8 (the default) or windows-1252');
    try {
      return new TextDecoder('utf-16le', { fatal: true }).decode(b);
    } catch {
      return fail('the file is not valid UTF-16 (half of a character): set encoding: utf-8 (the default) or windows-1252');
    }
  }
  if (utf16Bom) fail('the file is UTF-16 (it starts with a UTF-16 byte order mark): set encoding: utf-16le, or save it as UTF-8');
  const nul = b.indexOf(0);
  if (nul >= 0) fail(`line ${lineOfByte(b, nul)} holds a NUL byte: the file is binary or UTF-16, not a text CSV file (UTF-16: set encoding: utf-16le)`);
  const invalid = firstInvalidUtf8(b);
  if (o.encoding === 'utf-8') {
    if (invalid >= 0) {
      fail(`line ${lineOfByte(b, invalid)} is not valid UTF-8 (byte ${hex(b[invalid]!)}): the file is probably Windows-1252, as Excel and Outlook save it — set encoding: windows-1252 on the directory's connection, or save the file as "CSV UTF-8"`);
    }
    return new TextDecoder('utf-8', { fatal: true }).decode(b); // strips a UTF-8 BOM
  }
  // windows-1252 or latin1: a file that is valid UTF-8 with non-ASCII characters is UTF-8.
  if (invalid < 0) {
    const high = b.findIndex((x) => x >= 0x80);
    if (high >= 0) fail(`the file is UTF-8 (line ${lineOfByte(b, high)} holds a UTF-8 accented character), not ${o.encoding}: set encoding: utf-8 (the default), or the names would be stored garbled ("Ã©" for "é")`);
  }
  if (o.encoding === 'latin1') {
    const c1 = b.findIndex((x) => x >= 0x80 && x <= 0x9f);
    if (c1 >= 0) fail(`line ${lineOfByte(b, c1)} holds byte ${hex(b[c1]!)}, a control character in latin1 but a character (’ € œ …) in Windows-1252: set encoding: windows-1252`);
    return b.toString('latin1');
  }
  const undefinedByte = b.findIndex((x) => CP1252_UNDEFINED.has(x));
  if (undefinedByte >= 0) fail(`line ${lineOfByte(b, undefinedByte)} holds byte ${hex(b[undefinedByte]!)}, which is no character in Windows-1252: is the file in another encoding?`);
  return iconv.decode(b, 'windows-1252', { stripBOM: true });
}

// ---------------------------------------------------------------------------------------
// Rows

interface Parsed {
  header: string[];
  records: { line: number; record: string[] }[];
}

function explain(code: string | undefined, message: string, line: number, delimiter: string): string {
  const d = JSON.stringify(delimiter);
  switch (code) {
    case 'INVALID_OPENING_QUOTE':
      return `line ${line}: a quote (") inside a field that does not start with one — quote the whole field and double the quotes inside ("a ""b"" c")`;
    case 'CSV_INVALID_CLOSING_QUOTE':
      return `line ${line}: text right after a closing quote — quote the whole field and double the quotes inside`;
    case 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH': {
      const m = /expect (\d+), got (\d+)/.exec(message);
      return m ? `line ${line} has ${m[2]} fields, the header has ${m[1]}${Number(m[2]) > Number(m[1]) ? ` — an unquoted ${d} inside a value? quote values that contain it` : ''}` : `line ${line}: ${message}`;
    }
    case 'CSV_MAX_RECORD_SIZE':
      return `line ${line}: a field longer than ${CSV_MAX_FIELD} characters — a quote that never closes?`;
    default:
      return `line ${line}: ${message}`;
  }
}

function parseRecords(text: string, o: CsvOptions): Parsed {
  // Lines are counted here, from byte offsets (csv-parse's own counter counts a CRLF inside a
  // quoted field twice): a row's line is the line it starts on.
  const bytes = Buffer.from(text, 'utf8');
  const breaks: number[] = [];
  for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, i + 1)) breaks.push(i);
  const lineAt = (offset: number) => {
    let lo = 0;
    let hi = breaks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (breaks[mid]! < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
  let end = 0; // where the last record (read or refused) ended
  const start = () => {
    let i = end;
    while (i < bytes.length && (bytes[i] === 0x0a || bytes[i] === 0x0d)) i++;
    return lineAt(i);
  };
  const problems: string[] = [];
  const records: { line: number; record: string[] }[] = [];
  try {
    parse(text, {
      bom: true,
      delimiter: o.delimiter,
      relax_column_count: false,
      relax_quotes: false,
      skip_empty_lines: true,
      skip_records_with_error: true,
      max_record_size: CSV_MAX_FIELD,
      on_record: (record: string[], context: { bytes: number }) => {
        records.push({ line: start(), record });
        end = context.bytes;
        return record;
      },
      on_skip: (err: { code?: string; message: string; bytes?: number } | undefined) => {
        if (!err) return;
        const line = start();
        problems.push(err.code === 'CSV_QUOTE_NOT_CLOSED' ? `the row starting on line ${line} opens a quote that is never closed (the file ends inside it): look for a stray quote (")` : explain(err.code, err.message, line, o.delimiter));
        if (typeof err.bytes === 'number' && err.bytes > end) end = err.bytes;
      },
    });
  } catch (e) {
    const err = e as { code?: string; message: string };
    throw new CsvError(o.name, [...problems, explain(err.code, err.message, start(), o.delimiter)]);
  }
  const [first, ...rest] = records;
  if (!first) throw new CsvError(o.name, problems.length > 0 ? problems : ['the file has no header line']);
  if (problems.length > 0) throw new CsvError(o.name, [`${problems.length} malformed ${problems.length === 1 ? 'row' : 'rows'}, so none is used`, ...problems]);
  return { header: first.record.map((h) => h.trim()), records: rest };
}

// ---------------------------------------------------------------------------------------
// Header

/** Mapped column name → its index in the header; throws {@link CsvError} naming every column that is missing or ambiguous. */
function mapColumns(header: readonly string[], o: CsvOptions): Map<string, number> {
  const out = new Map<string, number>();
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const { name, by } of o.columns) {
    if (seen.has(name)) continue;
    seen.add(name);
    const exact = header.flatMap((h, i) => (h === name ? [i] : []));
    const folded = exact.length > 0 ? exact : header.flatMap((h, i) => (h.toLowerCase() === name.toLowerCase() ? [i] : []));
    if (folded.length === 1) out.set(name, folded[0]!);
    else if (folded.length > 1) problems.push(`column ${JSON.stringify(name)} (${by}) appears ${folded.length} times in the header: rename one`);
    else {
      const near = closest(name, header);
      problems.push(`the header has no column ${JSON.stringify(name)} (${by})${near ? `; did you mean ${JSON.stringify(near)}?` : ''}`);
    }
  }
  if (problems.length === 0) return out;
  const shown = header.slice(0, 12).map((h) => JSON.stringify(h)).join(', ') + (header.length > 12 ? `, … (${header.length} columns)` : '');
  problems.push(`the header's columns are ${shown}`);
  if (header.length === 1) {
    const guess = [';', ',', '\t', '|'].find((d) => d !== o.delimiter && header[0]!.includes(d));
    if (guess) problems.push(`the header is one single column: the file is probably delimited by ${JSON.stringify(guess)} — set delimiter: ${JSON.stringify(guess)}`);
  }
  throw new CsvError(o.name, problems);
}
