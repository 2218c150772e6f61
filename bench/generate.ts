/**
 * Generates a large, valid configuration tree for benchmarks: `users` users spread over
 * companies of 5 domains × 1,000 users, 50 groups per 1,000 users, five authorizations per user
 * (four applications + a calendar grant on their group), a directory and intercom group per
 * domain, and licences large enough. 10,000 users → 500 groups, 50,000 authorizations.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const USERS_PER_DOMAIN = 1000;
const DOMAINS_PER_COMPANY = 5;
const GROUPS_PER_DOMAIN = 50;
const APPS = ['Caller', 'Alerter', 'Stats', 'Mail'];

export interface GeneratedConfig {
  readonly dir: string;
  readonly files: number;
  readonly bytes: number;
  readonly users: number;
}

const pad = (n: number, w: number) => String(n).padStart(w, '0');

export function generateConfig(dir: string, users = 10_000): GeneratedConfig {
  mkdirSync(dir, { recursive: true });
  let files = 0;
  let bytes = 0;
  const write = (rel: string, text: string) => {
    const p = path.join(dir, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, text);
    files++;
    bytes += Buffer.byteLength(text);
  };
  const domains = Math.ceil(users / USERS_PER_DOMAIN);
  const companies = Math.ceil(domains / DOMAINS_PER_COMPANY);
  let u = 0;
  for (let c = 0; c < companies; c++) {
    const company = `company${pad(c, 2)}`;
    const domainsHere = Math.min(DOMAINS_PER_COMPANY, domains - c * DOMAINS_PER_COMPANY);
    const usersInCompany = Math.min(users - u, domainsHere * USERS_PER_DOMAIN);
    let head = `apiVersion: switchboard/v1\nkind: Company\nname: ${company}\n---\napiVersion: switchboard/v1\nkind: License\ncompany: ${company}\nitems:\n`;
    for (const a of [...APPS, 'Softphone']) head += `  - application: ${a}\n    available: ${usersInCompany}\n`;
    head += `---\napiVersion: switchboard/v1\nkind: Domain\ncompany: ${company}\nitems:\n`;
    for (let d = 0; d < domainsHere; d++) head += `  - name: site${d}\n    internalLength: 5\n    countryCode: "33"\n    externalPrefix: "0"\n    internationalPrefix: "00"\n`;
    write(`${company}/company.yaml`, head);
    for (let d = 0; d < domainsHere; d++) {
      const domain = `${company}/site${d}`;
      const base = `${company}/site${d}`;
      const n = Math.min(USERS_PER_DOMAIN, users - u);
      const first = u;
      u += n;
      write(
        `${base}/links.yaml`,
        `apiVersion: switchboard/v1\nkind: PbxLink\ndomain: ${domain}\nname: pbx\nprotocol: csta\nip: 10.0.${c}.${d + 1}\nport: 3211\ncapacity: 2000\nusername: cti\npassword: \${env:BENCH_CSTA_PASSWORD}\n` +
          `---\napiVersion: switchboard/v1\nkind: DialPlan\ndomain: ${domain}\npreset: fr\n` +
          `---\napiVersion: switchboard/v1\nkind: Directory\ndomain: ${domain}\nname: corporate\ntype: public\npriority: 1\nserverType: LDAP\nconnection:\n  host: ldap.example.com\n  port: 389\n  baseDn: dc=example,dc=com\n  filter: (objectClass=person)\nfields:\n  identifier: uid\n  lastName: sn\n  firstName: givenName\n  businessPhone: telephoneNumber\n  email1: mail\n` +
          `---\napiVersion: switchboard/v1\nkind: IntercomGroup\ndomain: ${domain}\nname: reception\ndevices:\n  - number: "${9000 + d * 10}"\n    protocol: CSTA\n    mediaProtocol: None\n    count: 2\n`,
      );
      let usersYaml = `apiVersion: switchboard/v1\nkind: User\ndomain: ${domain}\nitems:\n`;
      for (let i = 0; i < n; i++) {
        const k = first + i;
        const ext = String(10000 + (k % (DOMAINS_PER_COMPANY * USERS_PER_DOMAIN)) * 1);
        usersYaml +=
          `  - username: u${pad(k, 6)}\n    firstName: First${k}\n    lastName: Last${k}\n    email: u${pad(k, 6)}@example.com\n    culture: fr-FR\n` +
          `    devices:\n      - number: "${Number(ext) + 10000}"\n        protocol: CSTA\n        link: pbx\n`;
      }
      write(`${base}/users.yaml`, usersYaml);
      let groupsYaml = `apiVersion: switchboard/v1\nkind: Group\ndomain: ${domain}\nitems:\n`;
      const per = Math.ceil(n / GROUPS_PER_DOMAIN);
      for (let g = 0; g < GROUPS_PER_DOMAIN; g++) {
        groupsYaml += `  - name: team${pad(g, 3)}\n    members:\n`;
        for (let i = g * per; i < Math.min(n, (g + 1) * per); i++) groupsYaml += `      - u${pad(first + i, 6)}\n`;
        if (g * per >= n) groupsYaml = groupsYaml.replace(/    members:\n$/, '    members: []\n');
      }
      write(`${base}/groups.yaml`, groupsYaml);
      let authYaml = `apiVersion: switchboard/v1\nkind: Authorization\ndomain: ${domain}\nitems:\n`;
      for (let i = 0; i < n; i++) {
        const user = `u${pad(first + i, 6)}`;
        for (const a of APPS) authYaml += `  - object: { application: ${a} }\n    grantee: { user: ${user} }\n`;
        authYaml += `  - object: { calendar: { group: team${pad(Math.floor(i / per), 3)} } }\n    grantee: { user: ${user} }\n`;
      }
      write(`${base}/authorizations.yaml`, authYaml);
    }
  }
  return { dir, files, bytes, users };
}
