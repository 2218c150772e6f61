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
 * before any search, see {@link checkFilter}).
 */
import { isIP } from 'node:net';
import { Client, Filter, FilterParser, type Entry } from 'ldapts';

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
  /** Attributes returned as raw bytes (objectGUID). */
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
export function normalizeFilter(filter: string | undefined): string {
  const f = (filter ?? '').trim();
  if (f === '') return '(objectClass=*)';
  return f.startsWith('(') ? f : `(${f})`;
}

/** Parse the filter; throws {@link LdapError} `filter` with the parser's reason when it is not valid LDAP. */
export function checkFilter(filter: string): Filter {
  // The parser stops at the end of the first complete term: check the parentheses balance.
  let depth = 0;
  for (let i = 0; i < filter.length; i++) {
    const c = filter[i];
    if (c === '\\') i++;
    else if (c === '(') depth++;
    else if (c === ')' && --depth < 0) break;
  }
  if (depth !== 0) throw new LdapError('filter', `the LDAP filter ${JSON.stringify(filter)} is not valid: unbalanced parentheses`);
  try {
    return FilterParser.parseString(filter);
  } catch (e) {
    throw new LdapError('filter', `the LDAP filter ${JSON.stringify(filter)} is not valid: ${(e as Error).message}`, { cause: e });
  }
}

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
  const binary = new Set((search.binaryAttributes ?? []).map((a) => a.toLowerCase()));
  try {
    try {
      if (conn.tls === 'starttls') await client.startTLS({ ...(conn.tlsOptions ?? {}), ...(isIP(conn.host) ? {} : { servername: conn.host }) });
      if (conn.login) await client.bind(conn.login, conn.password ?? '');
    } catch (e) {
      const code = isTimeout(e) ? 'timeout' : (e as Error).name === 'InvalidCredentialsError' || (e as Error).name.endsWith('AuthError') ? 'bind' : 'connect';
      throw new LdapError(code, `LDAP ${code === 'bind' ? `bind as ${JSON.stringify(conn.login)}` : 'connection'} to ${urlOf(conn)} failed: ${(e as Error).message}`, { cause: e });
    }
    const out: LdapEntry[] = [];
    const limit = search.sizeLimit ?? 0;
    try {
      const pages = client.searchPaginated(search.baseDn, {
        scope: 'sub',
        filter,
        attributes: [...search.attributes],
        ...(binary.size > 0 ? { explicitBufferAttributes: [...binary] } : {}),
        paged: { pageSize: search.pageSize && search.pageSize > 0 ? search.pageSize : 1000 },
        ...(limit > 0 ? { sizeLimit: limit + 1 } : {}),
        timeLimit: Math.ceil(timeout / 1000),
      });
      for await (const page of pages) {
        for (const e of page.searchEntries) {
          out.push(toEntry(e));
          if (limit > 0 && out.length > limit) {
            throw new LdapError('size-limit', `the search returned more than the size limit of ${limit} entries: raise sizeLimit or narrow the filter (a truncated read is never synchronized)`);
          }
        }
      }
    } catch (e) {
      if (e instanceof LdapError) throw e;
      const name = (e as Error).name;
      if (name === 'SizeLimitExceededError') {
        throw new LdapError('size-limit', `the server cut the search at its size limit: raise the limit or narrow the filter (a truncated read is never synchronized)`, { cause: e });
      }
      if (name === 'NoSuchObjectError') {
        throw new LdapError('search', `the base DN ${JSON.stringify(search.baseDn)} does not exist on ${urlOf(conn)}`, { cause: e });
      }
      throw new LdapError(isTimeout(e) ? 'timeout' : 'search', `LDAP search of ${JSON.stringify(search.baseDn)} on ${urlOf(conn)} failed: ${(e as Error).message}`, { cause: e });
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

function toEntry(e: Entry): LdapEntry {
  const attrs = new Map<string, (string | Buffer)[]>();
  for (const [k, v] of Object.entries(e)) {
    if (k === 'dn') continue;
    const values = Array.isArray(v) ? v : [v];
    attrs.set(k.toLowerCase(), values as (string | Buffer)[]);
  }
  return { dn: e.dn, attrs };
}

/** The first value of an attribute as text (GUID buffers in their text form), or undefined. */
export function attrText(entry: LdapEntry, name: string): string | undefined {
  const v = entry.attrs.get(name.toLowerCase())?.[0];
  if (v === undefined) return undefined;
  if (Buffer.isBuffer(v)) return name.toLowerCase() === 'objectguid' ? guidToString(v) : v.toString('utf8');
  return v;
}
