/**
 * The LDAP client of the sync engines, over ldapts (README: "LDAP client: why ldapts").
 *
 * One function, {@link ldapSearchAll}: connect (ldap://, ldaps:// or StartTLS), simple bind,
 * one paged search (control 1.2.840.113556.1.4.319, so Active Directory's 1,000-entry page
 * limit is no limit), and unbind in `finally` — always, or the process hangs on the socket.
 * It returns every entry or throws: a sync never works from a partial read (a search that
 * fails on page 7 throws, it does not return pages 1–6).
 *
 * Escaping: config values that end up inside a filter go through {@link escapeFilterValue}
 * (RFC 4515); values inside a DN through {@link escapeDnValue} (RFC 4514). A configured filter
 * is the administrator's own LDAP syntax and is only checked to parse (a typo is refused
 * before any search, see {@link checkFilter}; `validate` runs the same check).
 *
 * Errors name the LDAP result (`invalid credentials (49)`, RFC 4511 §4.1.9 and the codes
 * Active Directory and client libraries add) and explain Active Directory's `data NNN`
 * sub-codes ({@link describeLdapFailure}): never a bare `Code: 0x31`.
 *
 * Values: text attributes arrive as strings (ldapts decodes UTF-8 strictly and hands over the
 * bytes of a value that is not UTF-8); binary attributes ({@link isBinaryAttribute}: photos,
 * GUIDs, SIDs, certificates, `;binary`) are always requested as bytes, so a photo is never
 * turned into text.
 */
import { isIP } from 'node:net';
import { Client, Filter, FilterParser, type Entry } from 'ldapts';
import { ldapFilterProblem, normalizeLdapFilter } from '../model/ldap-filter.js';

/** Where and how to reach a directory server. */
export interface LdapConnection {
  readonly host: string;
  /** Default: 389, or 636 for `ldaps`. */
  readonly port?: number;
  readonly tls?: 'none' | 'ldaps' | 'starttls';
  /** Bind DN (or `DOMAIN\user` / `user@domain` for Active Directory); omitted: anonymous. */
  readonly login?: string;
  readonly password?: string;
  /** Connect timeout and per-operation timeout, ms (default 30,000). */
  readonly timeoutMs?: number;
  /** TLS options (e.g. `ca` for a private CA; `rejectUnauthorized: false` only in tests). */
  readonly tlsOptions?: import('node:tls').ConnectionOptions;
}

export interface LdapSearch {
  readonly baseDn: string;
  /** An RFC 4515 filter; the manual's `objectClass=user` (no parentheses) is accepted too. */
  readonly filter?: string;
  readonly attributes: readonly string[];
  /** Attributes returned as raw bytes, beyond those {@link isBinaryAttribute} knows (objectGUID, jpegPhoto…). */
  readonly binaryAttributes?: readonly string[];
  /** Entries per page; 0 → 1,000 (what Active Directory allows at most). */
  readonly pageSize?: number;
  /** Most entries to return; 0 → no limit. Exceeding it throws (a truncated read is never a sync source). */
  readonly sizeLimit?: number;
}

/** One entry: attribute names lower-cased; values as strings, or Buffers for binary attributes. */
export interface LdapEntry {
  readonly dn: string;
  readonly attrs: ReadonlyMap<string, readonly (string | Buffer)[]>;
}

/** An LDAP failure, with a stable code and the underlying cause. */
export class LdapError extends Error {
  constructor(
    readonly code: 'connect' | 'bind' | 'search' | 'filter' | 'size-limit' | 'timeout',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LdapError';
  }
}

/** Escape a value for use inside a filter assertion (RFC 4515 §3: `*`, `(`, `)`, `\`, NUL; bytes of a Buffer). */
export function escapeFilterValue(value: string | Buffer): string {
  return Filter.escape(value);
}

/**
 * Escape a value for use as an attribute value in a DN (RFC 4514 §2.4): `"` `+` `,` `;` `<`
 * `>` `\` anywhere, `#` or a space at the start, a space at the end, NUL as `\00`.
 */
export function escapeDnValue(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\0') out += '\\00';
    else if ('"+,;<>\\='.includes(c)) out += `\\${c}`;
    else if ((c === '#' || c === ' ') && i === 0) out += `\\${c}`;
    else if (c === ' ' && i === value.length - 1) out += '\\ ';
    else out += c;
  }
  return out;
}

/** The configured filter in RFC 4515 form: `objectClass=user` becomes `(objectClass=user)`. */
export const normalizeFilter = normalizeLdapFilter;

/** Parse the filter; throws {@link LdapError} `filter` with the reason when it is not valid LDAP (the check `validate` runs too). */
export function checkFilter(filter: string): Filter {
  const problem = ldapFilterProblem(filter);
  if (problem !== undefined) throw new LdapError('filter', `the LDAP filter ${JSON.stringify(filter)} is not valid: ${problem}`);
  return FilterParser.parseString(normalizeLdapFilter(filter));
}

// ---------------------------------------------------------------------------------------
// Result codes

/**
 * LDAP result codes by number: RFC 4511 §4.1.9, plus RFC 3909/4528/4370/4533 (cancel,
 * assertion, proxied authorization, sync), the codes of the LDAP C API that client libraries
 * report (80–97), and ldapts' own (112, 248).
 */
const RESULT_NAMES: Readonly<Record<number, string>> = {
  0: 'success',
  1: 'operations error',
  2: 'protocol error',
  3: 'time limit exceeded',
  4: 'size limit exceeded',
  5: 'compare false',
  6: 'compare true',
  7: 'auth method not supported',
  8: 'stronger auth required',
  9: 'partial results (LDAPv2 referral)',
  10: 'referral',
  11: 'admin limit exceeded',
  12: 'unavailable critical extension',
  13: 'confidentiality required',
  14: 'SASL bind in progress',
  16: 'no such attribute',
  17: 'undefined attribute type',
  18: 'inappropriate matching',
  19: 'constraint violation',
  20: 'attribute or value exists',
  21: 'invalid attribute syntax',
  32: 'no such object',
  33: 'alias problem',
  34: 'invalid DN syntax',
  35: 'is leaf',
  36: 'alias dereferencing problem',
  48: 'inappropriate authentication',
  49: 'invalid credentials',
  50: 'insufficient access rights',
  51: 'busy',
  52: 'unavailable',
  53: 'unwilling to perform',
  54: 'loop detect',
  60: 'sort control missing',
  61: 'offset range error',
  64: 'naming violation',
  65: 'object class violation',
  66: 'not allowed on non-leaf',
  67: 'not allowed on RDN',
  68: 'entry already exists',
  69: 'object class mods prohibited',
  70: 'results too large',
  71: 'affects multiple DSAs',
  76: 'virtual list view error',
  80: 'other',
  81: 'server down',
  82: 'local error',
  83: 'encoding error',
  84: 'decoding error',
  85: 'timeout',
  86: 'auth unknown',
  87: 'filter error',
  88: 'user canceled',
  89: 'parameter error',
  90: 'no memory',
  91: 'connect error',
  92: 'not supported',
  93: 'control not found',
  94: 'no results returned',
  95: 'more results to return',
  96: 'client loop',
  97: 'referral limit exceeded',
  112: 'TLS not supported',
  118: 'canceled',
  119: 'no such operation',
  120: 'too late',
  121: 'cannot cancel',
  122: 'assertion failed',
  123: 'authorization denied',
  248: 'no result',
  4096: 'sync refresh required',
};

/** What to do about a result, where there is something to say. */
const RESULT_HINTS: Readonly<Record<number, string>> = {
  3: 'the server gave up: raise connection.timeoutSeconds or narrow the filter',
  4: 'raise connection.sizeLimit (or the server\'s limit) or narrow the filter',
  7: 'the server does not accept a simple bind for this account',
  8: 'the server requires a secure connection: set connection.tls to ldaps or starttls',
  11: 'the server\'s administrative limit was reached (Active Directory: MaxPageSize, MaxResultSetSize): lower connection.pageSize or narrow the filter',
  13: 'the server requires a secure connection: set connection.tls to ldaps or starttls',
  32: 'check connection.baseDn',
  34: 'check connection.baseDn and connection.login (a DN, DOMAIN\\user or user@domain)',
  48: 'check connection.login (a DN, DOMAIN\\user or user@domain)',
  49: 'check connection.login and the password',
  50: 'the account may not read these entries: grant it read access, or bind with another account',
  51: 'the server is busy: the next run tries again',
  52: 'the server is unavailable: the next run tries again',
  53: 'the server refuses (Active Directory refuses a simple bind without TLS, or a paged search over its limits): check connection.tls and connection.pageSize',
  81: 'the server closed the connection: check connection.host, port and tls',
  85: 'raise connection.timeoutSeconds',
  91: 'check connection.host, port and tls',
};

/**
 * Active Directory's sub-codes (`data 52e` in the diagnostic message of an invalid-credentials
 * bind), from Microsoft's documentation of `AcceptSecurityContext` errors.
 */
const AD_DATA_CODES: Readonly<Record<string, string>> = {
  '525': 'the account does not exist',
  '52e': 'the password is wrong',
  '530': 'the account may not log on at this time',
  '531': 'the account may not log on from this workstation',
  '532': 'the password has expired',
  '533': 'the account is disabled',
  '568': 'the account has too many security identifiers',
  '701': 'the account has expired',
  '773': 'the password must be reset before the account may log on',
  '775': 'the account is locked out',
};

/** `invalid credentials (49)`; an unknown code is `result code 4711`. */
export function ldapResultName(code: number): string {
  const name = RESULT_NAMES[code];
  return name === undefined ? `result code ${code}` : `${name} (${code})`;
}

/** The result code of an ldapts error, when it carries one. */
function resultCodeOf(e: unknown): number | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'number' && Number.isInteger(code) ? code : undefined;
}

/**
 * A failure as people read it: the named result with the server's own diagnostic message,
 * Active Directory's `data` sub-code explained, and what to check. Errors without a result
 * code (a refused connection, a socket error) keep their message.
 */
export function describeLdapFailure(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const code = resultCodeOf(e);
  if (code === undefined) return message;
  // ldapts appends " Code: 0x31" to the server's diagnostic message (or to its own default text).
  // Active Directory ends its diagnostic message with a NUL.
  const diagnostic = message.replace(/\s*Code: 0x[0-9a-f]+\s*$/i, '').replace(/[\s\0]+$/, '').trim();
  const parts = [ldapResultName(code)];
  if (diagnostic !== '') parts.push(`— the server says ${JSON.stringify(diagnostic)}`);
  const data = /\bdata ([0-9a-f]{3,4})\b/i.exec(diagnostic)?.[1]?.toLowerCase();
  const explained = data !== undefined ? AD_DATA_CODES[data] : undefined;
  if (explained) parts.push(`(Active Directory data ${data}: ${explained})`);
  const hint = RESULT_HINTS[code];
  return hint ? `${parts.join(' ')}: ${hint}` : parts.join(' ');
}

/** Result codes that mean the account could not authenticate (as opposed to an unreachable server). */
const BIND_CODES = new Set([7, 8, 13, 48, 49, 50, 53, 123]);

// ---------------------------------------------------------------------------------------
// Binary attributes

/**
 * Attributes whose values are bytes, not text (lower case): pictures, GUIDs and SIDs,
 * certificates and keys, Exchange's binary identifiers. An attribute description with the
 * `;binary` option is binary too.
 */
const BINARY_ATTRIBUTES = new Set([
  'jpegphoto',
  'thumbnailphoto',
  'thumbnaillogo',
  'photo',
  'audio',
  'objectguid',
  'objectsid',
  'sidhistory',
  'msexchmailboxguid',
  'msexchmasteraccountsid',
  'usercertificate',
  'cacertificate',
  'usersmimecertificate',
  'userpkcs12',
  'crosscertificatepair',
  'certificaterevocationlist',
  'authorityrevocationlist',
  'msds-generationid',
  'logonhours',
  'terminalserver',
]);

/** Whether values of `name` are bytes (see {@link BINARY_ATTRIBUTES}). */
export function isBinaryAttribute(name: string): boolean {
  const n = name.toLowerCase();
  return BINARY_ATTRIBUTES.has(n) || n.endsWith(';binary');
}

/** Spellings a server may answer with for an attribute (ldapts matches buffer attributes by exact name). */
const CANONICAL: Readonly<Record<string, string>> = {
  jpegphoto: 'jpegPhoto',
  thumbnailphoto: 'thumbnailPhoto',
  thumbnaillogo: 'thumbnailLogo',
  objectguid: 'objectGUID',
  objectsid: 'objectSid',
  sidhistory: 'sIDHistory',
  usercertificate: 'userCertificate',
  cacertificate: 'cACertificate',
  msexchmailboxguid: 'msExchMailboxGuid',
};

/** A GUID (AD `objectGUID`, 16 bytes little-endian in the first three groups) as its usual text form. */
export function guidToString(b: Buffer): string {
  if (b.length !== 16) return b.toString('hex');
  const h = (i: number, j: number, rev: boolean) => {
    const part = b.subarray(i, j);
    return Buffer.from(rev ? [...part].reverse() : part).toString('hex');
  };
  return `${h(0, 4, true)}-${h(4, 6, true)}-${h(6, 8, true)}-${h(8, 10, false)}-${h(10, 16, false)}`;
}

function urlOf(c: LdapConnection): string {
  const secure = c.tls === 'ldaps';
  const port = c.port ?? (secure ? 636 : 389);
  const host = c.host.includes(':') && !c.host.startsWith('[') ? `[${c.host}]` : c.host;
  return `${secure ? 'ldaps' : 'ldap'}://${host}:${port}`;
}

function isTimeout(e: unknown): boolean {
  return e instanceof Error && /timeout|timed out/i.test(e.message);
}

/**
 * Read every entry matching the search, or throw {@link LdapError}. Pages are requested with
 * the paged-results control; `sizeLimit` is enforced on the client too (a server limit that
 * cuts the answer short throws rather than returning fewer entries).
 */
export async function ldapSearchAll(conn: LdapConnection, search: LdapSearch): Promise<LdapEntry[]> {
  const filter = normalizeFilter(search.filter);
  checkFilter(filter);
  const timeout = conn.timeoutMs ?? 30_000;
  const client = new Client({
    url: urlOf(conn),
    timeout,
    connectTimeout: timeout,
    strictDN: false,
    // copies: ldapts writes into the options object it is given (socket, host)
    ...(conn.tls === 'ldaps' && conn.tlsOptions ? { tlsOptions: { ...conn.tlsOptions } } : {}),
  });
  const binary = new Set([...search.attributes, ...(search.binaryAttributes ?? [])].filter((a) => isBinaryAttribute(a) || (search.binaryAttributes ?? []).includes(a)));
  // Every spelling the server may answer with: as configured, lower case, the usual casing.
  const bufferNames = new Set<string>();
  for (const a of binary) {
    bufferNames.add(a);
    bufferNames.add(a.toLowerCase());
    const canonical = CANONICAL[a.toLowerCase()];
    if (canonical) bufferNames.add(canonical);
  }
  const binaryLower = new Set([...binary].map((a) => a.toLowerCase()));
  try {
    let step: 'starttls' | 'bind' = 'starttls';
    try {
      if (conn.tls === 'starttls') await client.startTLS({ ...(conn.tlsOptions ?? {}), ...(isIP(conn.host) ? {} : { servername: conn.host }) });
      step = 'bind';
      if (conn.login) await client.bind(conn.login, conn.password ?? '');
    } catch (e) {
      const rc = resultCodeOf(e);
      const code = isTimeout(e) ? 'timeout' : step === 'bind' && rc !== undefined && BIND_CODES.has(rc) ? 'bind' : 'connect';
      const what = step === 'starttls' ? 'StartTLS' : conn.login ? `bind as ${JSON.stringify(conn.login)}` : 'connection';
      throw new LdapError(code, `LDAP ${what} to ${urlOf(conn)} failed: ${describeLdapFailure(e)}`, { cause: e });
    }
    const out: LdapEntry[] = [];
    const limit = search.sizeLimit ?? 0;
    try {
      const pages = client.searchPaginated(search.baseDn, {
        scope: 'sub',
        filter,
        attributes: [...search.attributes],
        ...(bufferNames.size > 0 ? { explicitBufferAttributes: [...bufferNames] } : {}),
        paged: { pageSize: search.pageSize && search.pageSize > 0 ? search.pageSize : 1000 },
        ...(limit > 0 ? { sizeLimit: limit + 1 } : {}),
        timeLimit: Math.ceil(timeout / 1000),
      });
      for await (const page of pages) {
        for (const e of page.searchEntries) {
          out.push(toEntry(e, binaryLower));
          if (limit > 0 && out.length > limit) {
            throw new LdapError('size-limit', `the search returned more than the size limit of ${limit} entries: raise sizeLimit or narrow the filter (a truncated read is never synchronized)`);
          }
        }
      }
    } catch (e) {
      if (e instanceof LdapError) throw e;
      const name = (e as Error).name;
      if (name === 'SizeLimitExceededError') {
        throw new LdapError('size-limit', `the server cut the search at its size limit (${describeLdapFailure(e)}): a truncated read is never synchronized`, { cause: e });
      }
      if (name === 'NoSuchObjectError') {
        throw new LdapError('search', `the base DN ${JSON.stringify(search.baseDn)} does not exist on ${urlOf(conn)} (${describeLdapFailure(e)})`, { cause: e });
      }
      throw new LdapError(isTimeout(e) ? 'timeout' : 'search', `LDAP search of ${JSON.stringify(search.baseDn)} on ${urlOf(conn)} failed: ${describeLdapFailure(e)}`, { cause: e });
    }
    return out;
  } finally {
    try {
      await client.unbind();
    } catch {
      // the connection is gone already: nothing to release
    }
  }
}

function toEntry(e: Entry, binary: ReadonlySet<string>): LdapEntry {
  const attrs = new Map<string, (string | Buffer)[]>();
  for (const [k, v] of Object.entries(e)) {
    if (k === 'dn') continue;
    const name = k.toLowerCase();
    const values = (Array.isArray(v) ? v : [v]) as (string | Buffer)[];
    // A binary attribute the server named in a spelling we did not ask for came back decoded.
    attrs.set(name, binary.has(name) || isBinaryAttribute(name) ? values.map((x) => (Buffer.isBuffer(x) ? x : Buffer.from(x, 'utf8'))) : values);
  }
  return { dn: e.dn, attrs };
}

/** A SID (AD `objectSid`) in its text form `S-1-5-21-…`. */
export function sidToString(b: Buffer): string {
  if (b.length < 8 || b.length !== 8 + 4 * b[1]!) return b.toString('hex');
  const authority = b.readUIntBE(2, 6);
  const subs = Array.from({ length: b[1]! }, (_, i) => b.readUInt32LE(8 + 4 * i));
  return ['S', b[0], authority, ...subs].join('-');
}

/**
 * An attribute's values as text: strings as they came; GUIDs and SIDs in their text form.
 * Other bytes — a picture, or a text attribute whose value is not valid UTF-8 — are not text:
 * they are returned apart (`notText`) for the caller to store as data or to report; `asBytes`
 * keeps every byte value apart (an attribute read as a picture).
 */
export function attrValues(entry: LdapEntry, name: string, asBytes = false): { text: string[]; notText: Buffer[] } {
  const n = name.toLowerCase();
  const values = entry.attrs.get(n);
  if (values === undefined) return { text: [], notText: [] };
  if (values.length === 1 && typeof values[0] === 'string') return { text: [values[0]], notText: [] }; // the common case
  const text: string[] = [];
  const notText: Buffer[] = [];
  for (const v of values) {
    if (!Buffer.isBuffer(v)) text.push(v);
    else if (n === 'objectguid') text.push(guidToString(v));
    else if (n === 'objectsid') text.push(sidToString(v));
    else if (asBytes || isBinaryAttribute(n)) notText.push(v);
    else {
      // ldapts hands over all values of an attribute as bytes when one of them is not UTF-8.
      try {
        text.push(UTF8.decode(v));
      } catch {
        notText.push(v);
      }
    }
  }
  return { text, notText };
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The first value of an attribute as text (GUID and SID buffers in their text form), or undefined; bytes that are not text are never decoded. */
export function attrText(entry: LdapEntry, name: string): string | undefined {
  return attrValues(entry, name).text[0];
}
