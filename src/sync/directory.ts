/**
 * Directory synchronization (manual §8), the pure part: field expressions with their options,
 * red lists, `[VIP]` private fields, stable identifiers, merging contacts that share an e-mail
 * across merge-flagged directories, directory priority — plus the two readers (CSV file, LDAP).
 *
 * NOT wired to the runtime yet: there is no live `Contact` kind to write contacts to (see
 * docs/sync.md, "Not done yet"). Everything here is what that engine will call.
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
import { readFileSync } from 'node:fs';
import { attrText, ldapSearchAll, type LdapConnection, type LdapEntry } from './ldap.js';

export interface FieldOptions {
  readonly address: boolean;
  readonly hash: boolean;
  readonly invisible: boolean;
  readonly case?: 'lower' | 'upper' | 'mixed';
  readonly rewrite?: { readonly template: string; readonly regex?: RegExp };
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

/** Parse `Field|h,u,p:9{0}::^[0-9]{4}$`. Throws {@link FieldExpressionError} with the reason. */
export function parseFieldExpression(expression: string): FieldExpression {
  const bar = expression.indexOf('|');
  const source = (bar < 0 ? expression : expression.slice(0, bar)).trim();
  if (source === '') throw new FieldExpressionError(expression, 'no source field before |');
  const opts: { address: boolean; hash: boolean; invisible: boolean; case?: FieldOptions['case']; rewrite?: FieldOptions['rewrite'] } = { address: false, hash: false, invisible: false };
  if (bar < 0) return { source, options: opts };
  let rest = expression.slice(bar + 1);
  while (rest !== '') {
    if (rest.startsWith('p:')) {
      const body = rest.slice(2);
      const sep = body.indexOf('::');
      const template = sep < 0 ? body : body.slice(0, sep);
      const pattern = sep < 0 ? undefined : body.slice(sep + 2);
      let regex: RegExp | undefined;
      if (pattern) {
        try {
          regex = new RegExp(pattern);
        } catch (e) {
          throw new FieldExpressionError(expression, `the p: regular expression is not valid: ${(e as Error).message}`);
        }
      }
      opts.rewrite = regex ? { template, regex } : { template };
      break; // p: is last; its text may hold commas
    }
    const comma = rest.indexOf(',');
    const opt = (comma < 0 ? rest : rest.slice(0, comma)).trim();
    rest = comma < 0 ? '' : rest.slice(comma + 1);
    switch (opt) {
      case 'a':
        opts.address = true;
        break;
      case 'h':
        opts.hash = true;
        break;
      case 'i':
        opts.invisible = true;
        break;
      case 'l':
        opts.case = 'lower';
        break;
      case 'u':
        opts.case = 'upper';
        break;
      case 'm':
        opts.case = 'mixed';
        break;
      default:
        throw new FieldExpressionError(expression, `unknown option '${opt}' (a, h, i, l, m, u, or p:PREFIX{0}SUFFIX::REGEX last)`);
    }
  }
  return { source, options: opts };
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
export const CONTACT_FIELDS = ['identifier', 'lastName', 'firstName', 'company', 'photo', ...PHONE_FIELDS, 'email1', ...Array.from({ length: 10 }, (_, i) => `private${i}`)] as const;

/** A synchronized contact, as the directory engine will store it. */
export interface ContactRecord {
  /** `domain/directory`. */
  readonly directory: string;
  readonly priority: number;
  /** Stable across re-syncs: the mapped identifier, else a digest of name, company and e-mail. */
  readonly identifier: string;
  readonly fields: Readonly<Record<string, string>>;
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

type Body = Readonly<Record<string, unknown>>;

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

/** Source rows (field name → text) → contacts of one directory. Rows with no usable field are skipped. */
export function contactsOf(body: Body, rows: readonly ReadonlyMap<string, string>[]): { contacts: ContactRecord[]; skipped: number; duplicates: number } {
  const { fields, redList, vipFields } = directoryMapping(body);
  const directory = `${String(body.domain)}/${String(body.name)}`;
  const priority = typeof body.priority === 'number' ? body.priority : Number.MAX_SAFE_INTEGER;
  const out = new Map<string, ContactRecord>();
  let skipped = 0;
  let duplicates = 0;
  const get = (row: ReadonlyMap<string, string>, name: string) => row.get(name) ?? row.get(name.toLowerCase());
  for (const row of rows) {
    const values: Record<string, string> = {};
    const invisible: string[] = [];
    const address: string[] = [];
    for (const [field, expr] of fields) {
      const v = applyOptions(get(row, expr.source)?.trim(), expr.options);
      if (v === undefined) continue;
      values[field] = v;
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
    const hidden = PHONE_FIELDS.filter((p) => contactFields[p] !== undefined && redList.has(p) && isRedListed(get(row, redList.get(p)!)));
    const vip = vipFields.some((f) => contactFields[f] !== undefined);
    out.set(identifier, { directory, priority, identifier, fields: contactFields, hidden, invisible: invisible.filter((f) => f !== 'identifier'), address, vip, sources: [directory] });
  }
  return { contacts: [...out.values()], skipped, duplicates };
}

/**
 * Merge contacts sharing an e-mail (case-insensitive) across merge-flagged directories
 * (§8.2.2): one contact, whose fields come from the directory with the lowest priority,
 * completed by the others in priority order; hidden/VIP flags are the union. Contacts of
 * directories that do not merge, and contacts without e-mail, are kept as they are.
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
    const union = (k: 'hidden' | 'invisible' | 'address') => [...new Set(sorted.flatMap((c) => c[k]))].sort();
    out.push({ ...first, fields, hidden: union('hidden'), invisible: union('invisible'), address: union('address'), vip: sorted.some((c) => c.vip), sources: sorted.map((c) => c.directory) });
  }
  return out.sort((a, b) => a.priority - b.priority || a.directory.localeCompare(b.directory) || a.identifier.localeCompare(b.identifier));
}

// ---------------------------------------------------------------------------------------
// Readers

/** Parse delimited text (RFC 4180 quoting; the first row is the header). */
export function parseCsv(text: string, delimiter = ','): Map<string, string>[] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === delimiter) {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  const [header, ...data] = rows.filter((r) => !(r.length === 1 && r[0] === ''));
  if (!header) return [];
  return data.map((r) => new Map(header.map((h, j) => [h.trim(), r[j] ?? ''] as const)));
}

/** Read a CSV directory's file (`connection.path`, relative to `baseDir`). */
export function readCsvDirectory(body: Body, baseDir: string): Map<string, string>[] {
  const c = (body.connection ?? {}) as Record<string, unknown>;
  if (typeof c.path !== 'string') throw new Error(`Directory ${String(body.domain)}/${String(body.name)}: connection.path is required for a CSV directory`);
  const file = c.path.startsWith('/') ? c.path : `${baseDir}/${c.path}`;
  const encoding = c.encoding === 'utf-16le' ? 'utf16le' : c.encoding === 'latin1' ? 'latin1' : 'utf8';
  return parseCsv(readFileSync(file, encoding), typeof c.delimiter === 'string' ? c.delimiter : ',');
}

/** Read an LDAP directory: every attribute its fields and red list name, as text rows. */
export async function readLdapDirectory(body: Body, password: string | undefined, extra: Partial<LdapConnection> = {}): Promise<Map<string, string>[]> {
  const c = (body.connection ?? {}) as Record<string, unknown>;
  if (typeof c.host !== 'string' || typeof c.baseDn !== 'string') throw new Error(`Directory ${String(body.domain)}/${String(body.name)}: connection.host and baseDn are required for LDAP`);
  const { fields, redList } = directoryMapping(body);
  const attributes = [...new Set([...[...fields.values()].map((f) => f.source), ...redList.values()])];
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
      binaryAttributes: attributes.filter((a) => a.toLowerCase() === 'objectguid'),
      pageSize: typeof c.pageSize === 'number' ? c.pageSize : 0,
      sizeLimit: typeof c.sizeLimit === 'number' ? c.sizeLimit : 0,
    },
  );
  return entries.map((e) => new Map(attributes.flatMap((a) => {
    const v = attrText(e, a);
    return v === undefined ? [] : [[a, v] as const, [a.toLowerCase(), v] as const];
  })));
}
