/**
 * A real OpenLDAP `slapd` for the sync tests and the benchmark: unprivileged, on a free
 * loopback port, in a temp dir, loaded offline with `slapadd` from generated LDIF, stopped by
 * pid. `.ci/run` installs the Debian packages `slapd` and `ldap-utils`.
 *
 * The data is AD-like: inetOrgPerson entries plus a tiny test schema (auxiliary class `adUser`)
 * giving them Active Directory's `sAMAccountName`, binary `objectGUID`, `userAccountControl`
 * (bit 0x2 = disabled) and binary `thumbnailPhoto`, so the AD preset runs against a real server. The
 * same GUID, as hex text, is in `employeeNumber` for the plain-LDAP mapping.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';

export const SUFFIX = 'dc=example,dc=com';
export const ADMIN_DN = `cn=admin,${SUFFIX}`;
export const ADMIN_PASSWORD = 'slapd-Secret-never-shown';
export const PEOPLE = `ou=people,${SUFFIX}`;

export function hasSlapd(): boolean {
  return existsSync('/usr/sbin/slapd') && existsSync('/usr/sbin/slapadd');
}

/** One person of the generated directory. */
export interface Person {
  readonly uid: string;
  readonly guid: string;
  readonly sn: string;
  readonly givenName?: string;
  readonly mail?: string;
  readonly telephoneNumber?: string;
  readonly mobile?: string;
  /** userAccountControl; 512 normal, 514 disabled. */
  readonly uac?: number;
  /** Further attributes; a list is a multi-valued attribute; bytes (a photo) and unsafe text are written base64. */
  readonly extra?: Readonly<Record<string, string | Buffer | readonly (string | Buffer)[]>>;
}

export function person(i: number, over: Partial<Person> = {}): Person {
  const n = String(i).padStart(5, '0');
  return {
    uid: `user${n}`,
    guid: createHash('md5').update(`guid-${n}`).digest('hex'),
    sn: `Last${n}`,
    givenName: `First${n}`,
    mail: `user${n}@example.com`,
    telephoneNumber: String(20000 + i),
    uac: 512,
    ...over,
  };
}

export function ldifOf(people: readonly Person[]): string {
  const lines = [`dn: ${SUFFIX}`, 'objectClass: dcObject', 'objectClass: organization', 'o: Example', 'dc: example', '', `dn: ${PEOPLE}`, 'objectClass: organizationalUnit', 'ou: people', ''];
  for (const p of people) lines.push(...personLdif(p), '');
  return lines.join('\n');
}

function personLdif(p: Person): string[] {
  const out = [
    `dn: uid=${p.uid},${PEOPLE}`,
    'objectClass: inetOrgPerson',
    'objectClass: adUser',
    `uid: ${p.uid}`,
    `sAMAccountName: ${p.uid}`,
    `objectGUID:: ${Buffer.from(p.guid, 'hex').toString('base64')}`,
    line('cn', `${p.givenName ?? ''} ${p.sn}`.trim()),
    line('sn', p.sn),
    `employeeNumber: ${p.guid}`,
  ];
  if (p.givenName) out.push(line('givenName', p.givenName));
  if (p.mail) out.push(line('mail', p.mail));
  if (p.telephoneNumber) out.push(line('telephoneNumber', p.telephoneNumber));
  if (p.mobile) out.push(line('mobile', p.mobile));
  if (p.uac !== undefined) out.push(`userAccountControl: ${p.uac}`);
  for (const [k, v] of Object.entries(p.extra ?? {})) for (const x of Array.isArray(v) ? v : [v]) out.push(line(k, x as string | Buffer));
  // The values of one attribute together (slapadd keeps only the last run of a split attribute).
  const name = (l: string) => l.slice(0, l.indexOf(':')).toLowerCase();
  const order = [...new Set(out.map(name))];
  return [out[0]!, ...order.slice(1).flatMap((n) => out.filter((l, i) => i > 0 && name(l) === n))];
}

/** One LDIF attribute line: `name: value` for a SAFE-STRING (RFC 2849), else `name:: base64`. */
function line(name: string, v: string | Buffer): string {
  if (typeof v === 'string' && /^[\x21-\x39\x3b\x3d-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(v)) return `${name}: ${v}`;
  return `${name}:: ${(typeof v === 'string' ? Buffer.from(v, 'utf8') : v).toString('base64')}`;
}

/** Active Directory's user attributes, under a private test OID arc. */
const AD_SCHEMA = `
attributetype ( 1.3.6.1.4.1.55555.1.1 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.55555.1.2 NAME 'objectGUID' EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.55555.1.3 NAME 'userAccountControl' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.55555.1.4 NAME 'thumbnailPhoto' EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.55555.2.1 NAME 'adUser' SUP top AUXILIARY MAY ( sAMAccountName $ objectGUID $ userAccountControl $ thumbnailPhoto ) )
`;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Slapd {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly ldapsPort: number;
  readonly dir: string;
  /** Replace the whole directory content (stop, wipe, slapadd, start). */
  reload(people: readonly Person[]): Promise<void>;
  /** Apply LDIF change records with ldapmodify (running server). */
  modify(ldif: string): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Start a slapd holding `people`. */
export async function startSlapd(people: readonly Person[]): Promise<Slapd> {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-slapd-'));
  const db = path.join(dir, 'db');
  mkdirSync(db);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const rootpw = execFileSync('/usr/sbin/slappasswd', ['-s', ADMIN_PASSWORD], { encoding: 'utf8' }).trim();
  const conf = path.join(dir, 'slapd.conf');
  writeFileSync(path.join(dir, 'ad.schema'), AD_SCHEMA);
  writeFileSync(
    conf,
    [
      'include /etc/ldap/schema/core.schema',
      'include /etc/ldap/schema/cosine.schema',
      'include /etc/ldap/schema/inetorgperson.schema',
      'include /etc/ldap/schema/nis.schema',
      `include ${dir}/ad.schema`,
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      `pidfile ${dir}/slapd.pid`,
      `TLSCertificateFile ${dir}/cert.pem`,
      `TLSCertificateKeyFile ${dir}/key.pem`,
      'sizelimit unlimited',
      'database mdb',
      'maxsize 1073741824',
      `suffix "${SUFFIX}"`,
      `rootdn "${ADMIN_DN}"`,
      `rootpw ${rootpw}`,
      `directory ${db}`,
      'index objectClass eq',
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const ldapsPort = await freePort();
  const url = `ldap://127.0.0.1:${port}`;
  const load = (list: readonly Person[]) => {
    const ldif = path.join(dir, 'data.ldif');
    writeFileSync(ldif, ldifOf(list));
    execFileSync('/usr/sbin/slapadd', ['-f', conf, '-l', ldif, '-q'], { stdio: 'pipe' });
  };
  const pidOf = () => (existsSync(path.join(dir, 'slapd.pid')) ? Number(readFileSync(path.join(dir, 'slapd.pid'), 'utf8').trim()) : undefined);
  let running = false;
  const start = async () => {
    await new Promise<void>((resolve, reject) => {
      const p = spawn('/usr/sbin/slapd', ['-f', conf, '-h', `ldap://127.0.0.1:${port}/ ldaps://127.0.0.1:${ldapsPort}/`], { stdio: 'ignore' });
      p.once('error', reject);
      p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`slapd exited with ${code}`))));
    });
    for (let i = 0; i < 200; i++) {
      try {
        execFileSync('ldapsearch', ['-x', '-H', url, '-b', '', '-s', 'base'], { stdio: 'ignore' });
        running = true;
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw new Error('slapd did not come up');
  };
  const stop = async () => {
    const pid = pidOf();
    if (!running || pid === undefined) return;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      running = false;
      return;
    }
    for (let i = 0; i < 200; i++) {
      try {
        process.kill(pid, 0);
        await new Promise((r) => setTimeout(r, 25));
      } catch {
        break;
      }
    }
    running = false;
  };
  load(people);
  await start();
  return {
    url,
    host: '127.0.0.1',
    port,
    ldapsPort,
    dir,
    start,
    stop,
    async reload(list) {
      await stop();
      rmSync(db, { recursive: true, force: true });
      mkdirSync(db);
      load(list);
      await start();
    },
    modify(ldif) {
      execFileSync('ldapmodify', ['-x', '-H', url, '-D', ADMIN_DN, '-w', ADMIN_PASSWORD], { input: ldif, stdio: ['pipe', 'ignore', 'pipe'] });
    },
  };
}

/** Stop and remove. */
export async function destroySlapd(s: Slapd | undefined): Promise<void> {
  if (!s) return;
  await s.stop();
  rmSync(s.dir, { recursive: true, force: true });
}
