/**
 * Directory synchronization (manual §8), the pure part: field expressions with their options,
 * red lists, `[VIP]` private fields, stable identifiers, merging contacts that share an e-mail
 * across merge-flagged directories, directory priority — plus the two readers (a CSV file,
 * src/sync/csv.ts; LDAP). directory-run.ts stores the contacts.
 *
 * Every source value is checked with the rules of src/model/field-checks.ts before it becomes
 * a contact field: a bad one (an e-mail that is not an address, a phone that is not a number,
 * control characters, a picture too large) is left out with a warning naming the entry (its
 * DN, or the file and line) and the field; the rest of the entry is kept.
 *
 * Multi-valued sources (an LDAP attribute with several values, a CSV cell split by
 * `valueSeparator`): a phone field keeps every value — the first in `fields`, the others in
 * `additionalPhones`, and each one identifies a caller; other fields take the first value.
 *
 * Field expression: `sourceField|options`, options comma-separated (docs/sync.md):
 *   a  postal address (shown with a map link)      i  invisible in the Caller (still in the Alerter)
 *   h  hash the value (stable short identifier)    l  lower case   u  upper case
 *   m  first letter upper case, the rest lower     p:PREFIX{0}SUFFIX::REGEX  rewrite (last option)
 * Applied in this order: `p` (its REGEX is tested on the source value), then `l`/`m`/`u`,
 * then `h`. `Surname|h,u,p:9{0}::^[0-9]{4}$`: a four-digit surname gets a 9 in front, is upper-
 * cased, then hashed.
 */
import { createHash } from 'node:crypto';
import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { csvPathProblem, emailProblem, photoProblem, phoneProblem, PHOTO_MAX_BYTES, textProblem, TEXT_MAX_LENGTH, withoutFormatCharacters } from '../model/field-checks.js';
import { fieldPatternProblem, FieldExpressionSyntaxError, parseFieldExpressionSyntax, type FieldExpressionSyntax } from '../model/field-expression.js';
import { BoundedRegexError, compileBoundedRegex, type BoundedRegex } from '../dialplan/index.js';
import { readCsvFile, type CsvEncoding } from './csv.js';
import { attrValues, isBinaryAttribute, ldapSearchAll, type LdapConnection, type LdapEntry } from './ldap.js';
import { shown, type ImportNote } from './user-import.js';

export interface FieldOptions {
  readonly address: boolean;
  readonly hash: boolean;
  readonly invisible: boolean;
  readonly case?: 'lower' | 'upper' | 'mixed';
  readonly rewrite?: { readonly template: string; readonly regex?: BoundedRegex };
}

export interface FieldExpression {
  readonly source: string;
  readonly options: FieldOptions;
}

export class FieldExpressionError extends Error {
  constructor(expression: string, reason: string) {
    super(`field expression ${JSON.stringify(expression)}: ${reason}`);
    this.name = 'FieldExpressionError';
  }
}

/** Parse `Field|h,u,p:9{0}::^[0-9]{4}$`. Throws {@link FieldExpressionError} with the reason (the syntax is src/model/field-expression.ts, which `validate` checks too). */
export function parseFieldExpression(expression: string): FieldExpression {
  let syntax: FieldExpressionSyntax;
  try {
    syntax = parseFieldExpressionSyntax(expression);
  } catch (e) {
    throw new FieldExpressionError(expression, e instanceof FieldExpressionSyntaxError ? e.reason : (e as Error).message);
  }
  const { source, rewrite, ...flags } = syntax;
  const pattern = rewrite?.pattern;
  let regex: BoundedRegex | undefined;
  if (pattern) {
    // The dial plan's bounded matcher: a user pattern never runs on V8's backtracking engine.
    const problem = fieldPatternProblem(pattern);
    if (problem) throw new FieldExpressionError(expression, `the p: regular expression is not valid: ${problem}`);
    regex = compileBoundedRegex(pattern);
  }
  const options: FieldOptions = { ...flags, ...(rewrite ? { rewrite: regex ? { template: rewrite.template, regex } : { template: rewrite.template } } : {}) };
  return { source, options };
}

/** The value of a field after its options; undefined stays undefined. */
export function applyOptions(value: string | undefined, o: FieldOptions): string | undefined {
  if (value === undefined || value === '') return undefined;
  let v = value;
  if (o.rewrite && (!o.rewrite.regex || o.rewrite.regex.test(v))) v = o.rewrite.template.split('{0}').join(v);
  if (o.case === 'lower') v = v.toLowerCase();
  else if (o.case === 'upper') v = v.toUpperCase();
  else if (o.case === 'mixed') v = v.charAt(0).toUpperCase() + v.slice(1).toLowerCase();
  if (o.hash) v = createHash('sha256').update(v, 'utf8').digest('hex').slice(0, 32);
  return v;
}

/** Red-list values (§8.2.4): the phone is hidden (name only) when its red-list field holds one of these. */
const RED = new Set(['1', 'true', 'yes', 'y', 'lr', 'rf']);
export const isRedListed = (v: string | undefined): boolean => v !== undefined && RED.has(v.trim().toLowerCase());

export const PHONE_FIELDS = ['assistantPhone', 'switchboardPhone', 'businessPhone', 'mobilePhone', 'homePhone'] as const;
export type PhoneField = (typeof PHONE_FIELDS)[number];
export const CONTACT_FIELDS = ['identifier', 'lastName', 'firstName', 'company', 'photo', ...PHONE_FIELDS, 'email1', ...Array.from({ length: 10 }, (_, i) => `private${i}`)] as const;
const PHONES: ReadonlySet<string> = new Set(PHONE_FIELDS);

/** Most numbers one phone field of a contact keeps (the first in `fields`, the rest in `additionalPhones`). */
export const MAX_PHONE_VALUES = 20;

/** A synchronized contact, as the directory engine will store it. */
export interface ContactRecord {
  /** `domain/directory`. */
  readonly directory: string;
  readonly priority: number;
  /** Stable across re-syncs: the mapped identifier, else a digest of name, company and e-mail. */
  readonly identifier: string;
  readonly fields: Readonly<Record<string, string>>;
  /** Further numbers of a phone field whose source has several values (its first is in `fields`); they identify the caller too. */
  readonly additionalPhones?: Readonly<Partial<Record<PhoneField, readonly string[]>>>;
  /** Phone fields hidden by the red list (the number is kept for lookup, never shown). */
  readonly hidden: readonly string[];
  /** Fields with option `i`. */
  readonly invisible: readonly string[];
  /** Fields with option `a`. */
  readonly address: readonly string[];
  readonly vip: boolean;
  /** Directories merged into this contact (merge by e-mail), highest priority first. */
  readonly sources: readonly string[];
}

/** Every number of a contact's phone field: `fields[p]`, then its additional numbers. */
export function phoneNumbers(c: Pick<ContactRecord, 'fields' | 'additionalPhones'>, p: PhoneField): string[] {
  const first = c.fields[p];
  return first === undefined ? [] : [first, ...(c.additionalPhones?.[p] ?? [])];
}

type Body = Readonly<Record<string, unknown>>;

/**
 * One entry of a source: where it is, for messages (an LDAP DN, or `file.csv line 12`), and
 * its values by source field name (also under the lower-cased name), each a list (an LDAP
 * attribute may have several values; a CSV cell has one unless `valueSeparator` splits it).
 */
export interface SourceRow {
  readonly where: string;
  readonly values: ReadonlyMap<string, readonly string[]>;
}

/** What a reader read: the entries, warnings about values it left out, and how to describe an empty source. */
export interface SourceRead {
  readonly rows: readonly SourceRow[];
  readonly notes: readonly ImportNote[];
  /** Why there are no rows, when the reader knows better than "no entries" (a header-only CSV file). */
  readonly empty?: string;
}

/** A row from plain values (tests, and sources with one value per field). */
export function sourceRow(where: string, values: Readonly<Record<string, string | readonly string[]>>): SourceRow {
  const map = new Map<string, readonly string[]>();
  for (const [k, v] of Object.entries(values)) {
    const list = typeof v === 'string' ? [v] : v;
    map.set(k, list);
    if (!map.has(k.toLowerCase())) map.set(k.toLowerCase(), list);
  }
  return { where, values: map };
}

/** The parsed mapping of a Directory body; throws FieldExpressionError for a bad expression. */
export function directoryMapping(body: Body): { fields: Map<string, FieldExpression>; redList: Map<string, string>; vipFields: string[] } {
  const fields = new Map<string, FieldExpression>();
  for (const [k, v] of Object.entries((body.fields ?? {}) as Record<string, string>)) fields.set(k, parseFieldExpression(v));
  const redList = new Map(Object.entries((body.redList ?? {}) as Record<string, string>));
  const vipFields = Object.entries((body.privateLabels ?? {}) as Record<string, string>)
    .filter(([, label]) => label.trim().toUpperCase() === '[VIP]')
    .map(([k]) => k);
  return { fields, redList, vipFields };
}

/** The source fields a mapping reads: every field expression's source and every red-list field. */
export function mappedSources(body: Body): { name: string; by: string }[] {
  const out: { name: string; by: string }[] = [];
  const { fields, redList } = directoryMapping(body);
  for (const [field, expr] of fields) out.push({ name: expr.source, by: `fields.${field}` });
  for (const [field, source] of redList) out.push({ name: source, by: `redList.${field}` });
  return out;
}

/** Why a contact field's value cannot be stored, or undefined (src/model/field-checks.ts). */
export function contactFieldProblem(field: string, v: string): string | undefined {
  if (field === 'identifier') return undefined; // stored as is, or as its digest (contactIdentifier)
  if (field === 'email1') return emailProblem(v);
  if (PHONES.has(field)) return phoneProblem(v);
  if (field === 'photo') return photoProblem(v);
  if (field === 'lastName' || field === 'firstName' || field === 'company') return textProblem(v, TEXT_MAX_LENGTH, false);
  return textProblem(v, TEXT_MAX_LENGTH, true);
}

const rowValues = (row: SourceRow, name: string): readonly string[] => row.values.get(name) ?? row.values.get(name.toLowerCase()) ?? [];

/**
 * Source rows → contacts of one directory. Rows with no usable field are skipped; a value
 * that fails its field's check is left out with a warning (`notes`) and the rest of the row
 * is kept.
 */
export function contactsOf(body: Body, rows: readonly SourceRow[]): { contacts: ContactRecord[]; skipped: number; duplicates: number; notes: ImportNote[] } {
  const { fields, redList, vipFields } = directoryMapping(body);
  const directory = `${String(body.domain)}/${String(body.name)}`;
  const priority = typeof body.priority === 'number' ? body.priority : Number.MAX_SAFE_INTEGER;
  const out = new Map<string, ContactRecord>();
  const notes: ImportNote[] = [];
  let skipped = 0;
  let duplicates = 0;
  for (const row of rows) {
    const values: Record<string, string> = {};
    const more: Partial<Record<PhoneField, string[]>> = {};
    const invisible: string[] = [];
    const address: string[] = [];
    for (const [field, expr] of fields) {
      const phone = PHONES.has(field);
      const kept: string[] = [];
      for (const raw of rowValues(row, expr.source)) {
        const source = phone ? withoutFormatCharacters(raw).trim() : raw.trim();
        let v: string | undefined;
        try {
          v = applyOptions(source, expr.options);
        } catch (e) {
          // only a back-reference pattern over its step budget, or a value too long to match
          if (!(e instanceof BoundedRegexError)) throw e;
          notes.push({ level: 'warning', message: `${row.where}: ${field}: the p: regular expression of ${JSON.stringify(expr.source)} gave up on this value (${e.message}): left out` });
          continue;
        }
        if (v === undefined) continue;
        const problem = contactFieldProblem(field, v);
        if (problem) {
          notes.push({ level: 'warning', message: `${row.where}: ${field} ${field === 'photo' ? `(${expr.source})` : shown(v)} ${problem}: left out` });
          continue;
        }
        if (!kept.includes(v)) kept.push(v);
        if (!phone || kept.length >= MAX_PHONE_VALUES) break;
      }
      if (kept.length === 0) continue;
      values[field] = kept[0]!;
      if (kept.length > 1) more[field as PhoneField] = kept.slice(1);
      if (phone && kept.length >= MAX_PHONE_VALUES && rowValues(row, expr.source).length > MAX_PHONE_VALUES) {
        notes.push({ level: 'warning', message: `${row.where}: ${field} has ${rowValues(row, expr.source).length} values: the first ${MAX_PHONE_VALUES} are kept` });
      }
      if (expr.options.invisible) invisible.push(field);
      if (expr.options.address) address.push(field);
    }
    const { identifier: mapped, ...contactFields } = values;
    if (Object.keys(contactFields).length === 0) {
      skipped++;
      continue;
    }
    const identifier = mapped ?? createHash('sha256').update(JSON.stringify([contactFields.lastName, contactFields.firstName, contactFields.company, contactFields.email1?.toLowerCase()])).digest('hex').slice(0, 32);
    if (out.has(identifier)) {
      duplicates++;
      continue;
    }
    const redValue = (p: string) => rowValues(row, redList.get(p)!)[0];
    const hidden = PHONE_FIELDS.filter((p) => contactFields[p] !== undefined && redList.has(p) && isRedListed(redValue(p)));
    const vip = vipFields.some((f) => contactFields[f] !== undefined);
    out.set(identifier, {
      directory,
      priority,
      identifier,
      fields: contactFields,
      ...(Object.keys(more).length > 0 ? { additionalPhones: more } : {}),
      hidden,
      invisible: invisible.filter((f) => f !== 'identifier'),
      address,
      vip,
      sources: [directory],
    });
  }
  return { contacts: [...out.values()], skipped, duplicates, notes };
}

/**
 * Merge contacts sharing an e-mail (case-insensitive) across merge-flagged directories
 * (§8.2.2): one contact, whose fields come from the directory with the lowest priority,
 * completed by the others in priority order (a phone field's additional numbers come with
 * the field); hidden/VIP flags are the union. Contacts of directories that do not merge, and
 * contacts without e-mail, are kept as they are.
 */
export function mergeContacts(directories: readonly { readonly merge: boolean; readonly contacts: readonly ContactRecord[] }[]): ContactRecord[] {
  const out: ContactRecord[] = [];
  const byEmail = new Map<string, ContactRecord[]>();
  for (const d of directories) {
    for (const c of d.contacts) {
      const email = c.fields.email1?.toLowerCase();
      if (!d.merge || !email) out.push(c);
      else byEmail.set(email, [...(byEmail.get(email) ?? []), c]);
    }
  }
  for (const group of byEmail.values()) {
    const sorted = [...group].sort((a, b) => a.priority - b.priority || a.directory.localeCompare(b.directory));
    const first = sorted[0]!;
    if (sorted.length === 1) {
      out.push(first);
      continue;
    }
    const fields: Record<string, string> = {};
    for (const c of [...sorted].reverse()) Object.assign(fields, c.fields);
    const more: Partial<Record<PhoneField, readonly string[]>> = {};
    for (const p of PHONE_FIELDS) {
      const winner = sorted.find((c) => c.fields[p] !== undefined);
      const extra = winner?.additionalPhones?.[p];
      if (extra && extra.length > 0) more[p] = extra;
    }
    const union = (k: 'hidden' | 'invisible' | 'address') => [...new Set(sorted.flatMap((c) => c[k]))].sort();
    const { additionalPhones: _drop, ...base } = first;
    void _drop;
    out.push({
      ...base,
      fields,
      ...(Object.keys(more).length > 0 ? { additionalPhones: more } : {}),
      hidden: union('hidden'),
      invisible: union('invisible'),
      address: union('address'),
      vip: sorted.some((c) => c.vip),
      sources: sorted.map((c) => c.directory),
    });
  }
  return out.sort((a, b) => a.priority - b.priority || a.directory.localeCompare(b.directory) || a.identifier.localeCompare(b.identifier));
}

// ---------------------------------------------------------------------------------------
// Readers

/**
 * Read a CSV directory's file: `connection.path`, relative to `filesDir` (the runtime's
 * `files/` folder unless told otherwise) and confined to it after symbolic links are
 * resolved. A Directory is configuration any company administrator may write: without the
 * confinement, `path: /etc/shadow` would import a server file as contacts, readable through
 * lookups. Only a regular file is opened (a pipe would block the engine). Strict: see csv.ts.
 */
export function readCsvDirectory(body: Body, filesDir: string): SourceRead {
  const c = (body.connection ?? {}) as Record<string, unknown>;
  const who = `Directory ${String(body.domain)}/${String(body.name)}`;
  if (typeof c.path !== 'string') throw new Error(`${who}: connection.path is required for a CSV directory`);
  const problem = csvPathProblem(c.path);
  if (problem) throw new Error(`${who}: connection.path ${JSON.stringify(c.path)} ${problem}`);
  const fix = `put the file in ${filesDir} (the folder CSV directories are read from) and give its path relative to it`;
  let root: string;
  let real: string;
  try {
    root = realpathSync(filesDir);
  } catch {
    throw new Error(`${who}: the folder CSV directories are read from, ${filesDir}, does not exist: create it and ${fix}`);
  }
  try {
    real = realpathSync(path.join(root, c.path));
  } catch (e) {
    throw new Error(`${who}: cannot read ${JSON.stringify(c.path)} in ${filesDir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): ${fix}`);
  }
  const rel = path.relative(root, real);
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`${who}: ${JSON.stringify(c.path)} leads outside ${filesDir} through a symbolic link (to ${real}), refused: ${fix}`);
  if (!statSync(real).isFile()) throw new Error(`${who}: ${JSON.stringify(c.path)} is not a regular file (a folder, pipe or device): ${fix}`);
  return readCsvFile(real, {
    name: c.path,
    delimiter: typeof c.delimiter === 'string' ? c.delimiter : ',',
    encoding: (typeof c.encoding === 'string' ? c.encoding : 'utf-8') as CsvEncoding,
    ...(typeof c.valueSeparator === 'string' ? { valueSeparator: c.valueSeparator } : {}),
    columns: mappedSources(body),
  });
}

/** Image types a photo may be stored as, by their first bytes. */
const IMAGE_TYPES: readonly { readonly type: string; readonly magic: readonly number[] }[] = [
  { type: 'image/jpeg', magic: [0xff, 0xd8, 0xff] },
  { type: 'image/png', magic: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { type: 'image/gif', magic: [0x47, 0x49, 0x46, 0x38] },
];

/**
 * A picture's bytes (LDAP `jpegPhoto`, `thumbnailPhoto`) as a `data:` URL (`data:image/jpeg;base64,…`)
 * that a browser or the Caller shows as is; or why not: not a JPEG, PNG or GIF, or larger than
 * {@link PHOTO_MAX_BYTES}.
 */
export function imageDataUrl(bytes: Buffer): { url: string } | { problem: string } {
  if (bytes.length > PHOTO_MAX_BYTES) return { problem: `is ${Math.ceil(bytes.length / 1024)} KiB, over the ${PHOTO_MAX_BYTES / 1024} KiB limit for a photo` };
  const t = IMAGE_TYPES.find((i) => i.magic.every((b, k) => bytes[k] === b));
  if (!t) return { problem: 'is not a JPEG, PNG or GIF picture' };
  return { url: `data:${t.type};base64,${bytes.toString('base64')}` };
}

/**
 * Read an LDAP directory: every attribute its fields and red list name, every value (sorted:
 * the server's order means nothing and would change between runs). Pictures
 * (the `photo` field's attribute, and binary attributes such as `jpegPhoto`) are read as bytes
 * and become `data:` URLs; a text attribute whose value is not UTF-8 is left out with a warning.
 */
export async function readLdapDirectory(body: Body, password: string | undefined, extra: Partial<LdapConnection> = {}): Promise<SourceRead> {
  const c = (body.connection ?? {}) as Record<string, unknown>;
  if (typeof c.host !== 'string' || typeof c.baseDn !== 'string') throw new Error(`Directory ${String(body.domain)}/${String(body.name)}: connection.host and baseDn are required for LDAP`);
  const { fields } = directoryMapping(body);
  const attributes = [...new Set(mappedSources(body).map((s) => s.name))];
  const photoSource = fields.get('photo')?.source.toLowerCase();
  const asBytes = (a: string) => a.toLowerCase() === photoSource || isBinaryAttribute(a);
  const entries: LdapEntry[] = await ldapSearchAll(
    {
      host: c.host,
      ...(typeof c.port === 'number' ? { port: c.port } : {}),
      ...(typeof c.user === 'string' ? { login: c.user } : {}),
      ...(password !== undefined ? { password } : {}),
      ...extra,
    },
    {
      baseDn: c.baseDn,
      ...(typeof c.filter === 'string' ? { filter: c.filter } : {}),
      attributes,
      binaryAttributes: attributes.filter(asBytes),
      pageSize: typeof c.pageSize === 'number' ? c.pageSize : 0,
      sizeLimit: typeof c.sizeLimit === 'number' ? c.sizeLimit : 0,
    },
  );
  const notes: ImportNote[] = [];
  const rows = entries.map((e): SourceRow => {
    const values = new Map<string, readonly string[]>();
    for (const a of attributes) {
      const { text, notText } = attrValues(e, a, asBytes(a));
      const list = [...text];
      for (const bytes of notText) {
        if (asBytes(a)) {
          const image = imageDataUrl(bytes);
          if ('url' in image) list.push(image.url);
          else notes.push({ level: 'warning', message: `${e.dn}: ${a} ${image.problem}: left out` });
        } else notes.push({ level: 'warning', message: `${e.dn}: ${a} ${shown(bytes.toString('latin1'))} is not valid UTF-8 text: left out` });
      }
      if (list.length === 0) continue;
      // LDAP returns an attribute's values in no particular order: sorted, a run is stable.
      list.sort();
      values.set(a, list);
      values.set(a.toLowerCase(), list);
    }
    return { where: e.dn, values };
  });
  return { rows, notes };
}
