/**
 * docs/plan.md, promise by promise, where no other test already proves it (the closing note
 * of issue 12 maps the others to their tests): exit codes, --target, one change set per
 * apply, export, the canonical form, replace on x-immutable fields, dependency order, safety,
 * secrets in saved plans, the plan file's fields, colour, the markdown section cap and the
 * license-exceeded warning. Real components: the compiled CLI, the embedded runtime, a real
 * `serve` over HTTP where an administrator would use one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Harness } from '../scenarios/harness.js';
import { canonicalize } from '../../src/plan/canonical.js';
import { diff, sameValue, type DesiredResource } from '../../src/plan/diff.js';
import { immutableChanges } from '../../src/plan/canonical.js';
import { checkSafety } from '../../src/plan/safety.js';
import { KIND_NAMES, type KindName } from '../../src/model/kinds.js';
import { makePlan } from '../../src/plan/planner.js';
import { renderMarkdown } from '../../src/render/markdown.js';
import { useColour } from '../../src/cli/output.js';
import { fixtureRuntime } from '../plan/fixture-runtime.js';
import type { DesiredState, Resource } from '../../src/model/resource.js';
import type { Plan } from '../../src/plan/types.js';
import { closedPort, doc, QUICK_ENV, quickstartWorkDir, sb, users } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function quickstart(mode: 'embedded' | 'http' = 'embedded'): Promise<Harness> {
  h = await Harness.start(mode, QUICK_ENV);
  h.useConfig('examples/quickstart');
  return h;
}

describe('docs/plan.md — commands', () => {
  it('--detailed-exitcode: 0 no changes, 2 changes present, 1 error (compiled CLI)', () => {
    const cwd = quickstartWorkDir();
    const env = { ...QUICK_ENV };
    expect(sb(['plan', 'config', '--detailed-exitcode'], { cwd, env }).status).toBe(2);
    expect(sb(['plan', 'config'], { cwd, env }).status).toBe(0); // without the flag, changes are no error
    expect(sb(['apply', 'config', '--auto-approve'], { cwd, env }).status).toBe(0);
    expect(sb(['plan', 'config', '--detailed-exitcode'], { cwd, env }).status).toBe(0);
    // An error is 1, never 2: an invalid configuration, a runtime that cannot be reached.
    writeFileSync(path.join(cwd, 'config/broken.yaml'), `${doc('User')}domain: acme/paris\nusername: zed\nfristName: Zed\n`);
    const invalid = sb(['plan', 'config', '--detailed-exitcode'], { cwd, env });
    expect(invalid.status).toBe(1);
    expect(invalid.stderr).toContain('[unknown-field]');
    writeFileSync(path.join(cwd, 'config/broken.yaml'), users(['zed']));
    const unreachable = sb(['plan', 'config', '--detailed-exitcode', '--runtime', `http://127.0.0.1:${closedPort()}`], { cwd, env: { ...env, SWITCHBOARD_TOKEN: 't' } });
    expect(unreachable.status).toBe(1);
    expect(unreachable.stderr).toMatch(/^switchboard: cannot reach the runtime at /m);
  });

  it('--target restricts the plan to a domain, one resource, or a whole kind (compiled CLI)', () => {
    const cwd = quickstartWorkDir();
    writeFileSync(path.join(cwd, 'config/nice.yaml'), `${doc('Domain')}company: acme\nname: nice\n---\n${doc('Group')}domain: acme/nice\nname: Nice\n`);
    const ids = (...targets: string[]) => {
      const r = sb(['plan', 'config', '--format', 'json', ...targets.flatMap((t) => ['--target', t])], { cwd, env: QUICK_ENV });
      expect(r.status).toBe(0);
      const plan = JSON.parse(r.stdout) as Plan;
      expect(plan.targets).toEqual(targets);
      return plan.changes.map((c) => `${c.kind} ${c.id}`).sort();
    };
    expect(ids('acme/nice')).toEqual(['Domain acme/nice', 'Group acme/nice/Nice']);
    expect(ids('User/acme/paris/alice')).toEqual(['User acme/paris/alice']);
    expect(ids('Group')).toEqual(['Group acme/nice/Nice', 'Group acme/paris/All']);
    expect(ids('User/acme/paris/alice', 'Group')).toEqual(['Group acme/nice/Nice', 'Group acme/paris/All', 'User acme/paris/alice']);
  });

  it('the whole apply is one atomic change set; the summary prints the new revision', async () => {
    const h = await quickstart();
    const r = await h.cli(['apply', 'config', '--auto-approve']);
    expect(r.stdout).toContain('Applied 14 changes. Runtime revision is now 1.\n');
    const history = JSON.parse((await h.cli(['history', '--format', 'json'])).stdout) as { revision: number; changes: unknown[] }[];
    expect(history.map((e) => [e.revision, e.changes.length])).toEqual([[1, 14]]);
    // That a refused change set applies none of its changes: see the license-exceeded test below.
  });

  it('export: one file per kind and scope, secrets as ${env:…} listed in secrets.env.example, --company, --include-synced', async () => {
    const h = await quickstart();
    h.write('config/globex.yaml', `${doc('Company')}name: globex\n---\n${doc('Domain')}company: globex\nname: hq\n---\n${doc('Group')}domain: globex/hq\nname: Everyone\n`);
    expect((await h.cli(['apply', 'config', '--auto-approve'])).status).toBe(0);
    expect((await h.cli(['export', '--out', 'all'])).status).toBe(0);
    const files = (dir: string): string[] =>
      readdirSync(path.join(h.dir, dir), { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => path.relative(path.join(h.dir, dir), path.join(e.parentPath, e.name)))
        .sort();
    expect(files('all')).toEqual([
      'acme/License.yaml',
      'acme/company.yaml',
      'acme/paris/Authorization.yaml',
      'acme/paris/DialPlan.yaml',
      'acme/Domain.yaml',
      'acme/paris/Group.yaml',
      'acme/paris/PbxLink.yaml',
      'acme/paris/User.yaml',
      'admins.yaml',
      'globex/Domain.yaml',
      'globex/company.yaml',
      'globex/hq/Group.yaml',
      'secrets.env.example',
    ].sort());
    const example = h.read('all/secrets.env.example');
    const variables = example.split('\n').filter((l) => /^[A-Z0-9_]+=$/.test(l));
    expect(variables).toHaveLength(2); // the link's password and the admin's
    for (const v of variables) expect(readdirSync(path.join(h.dir, 'all'), { recursive: true }).some((f) => String(f).endsWith('.yaml') && readFileSync(path.join(h.dir, 'all', String(f)), 'utf8').includes(`\${env:${v.slice(0, -1)}}`))).toBe(true);
    for (const secret of Object.values(QUICK_ENV)) expect(JSON.stringify(files('all').map((f) => h.read(path.join('all', f))))).not.toContain(secret);
    // --company: that company only, and nothing server-wide.
    expect((await h.cli(['export', '--company', 'globex', '--out', 'globex'])).status).toBe(0);
    expect(files('globex')).toEqual(['.switchboard-company', 'globex/Domain.yaml', 'globex/company.yaml', 'globex/hq/Group.yaml']);
    // Resources of sync engines only with --include-synced.
    h.syncCreate('import:ad', [{ kind: 'User', id: 'globex/hq/imported', body: { domain: 'globex/hq', username: 'imported', firstName: 'From AD' } }]);
    expect((await h.cli(['export', '--company', 'globex', '--out', 'plain'])).status).toBe(0);
    expect(files('plain')).not.toContain('globex/hq/User.yaml');
    expect((await h.cli(['export', '--company', 'globex', '--include-synced', '--out', 'synced'])).status).toBe(0);
    expect(h.read('synced/globex/hq/User.yaml')).toContain('username: imported');
  });

  it('export --company then plan of that directory: no changes, exit 0 with --detailed-exitcode (compiled CLI)', () => {
    const cwd = quickstartWorkDir();
    writeFileSync(path.join(cwd, 'config/globex.yaml'), `${doc('Company')}name: globex\n---\n${doc('Domain')}company: globex\nname: hq\n---\n${doc('Group')}domain: globex/hq\nname: Everyone\n`);
    expect(sb(['apply', 'config', '--auto-approve'], { cwd, env: QUICK_ENV }).status).toBe(0);
    expect(sb(['export', '--company', 'acme', '--out', 'acme'], { cwd, env: QUICK_ENV }).status).toBe(0);
    const variables = readFileSync(path.join(cwd, 'acme/secrets.env.example'), 'utf8').split('\n').filter((l) => /^[A-Z0-9_]+=$/.test(l)).map((l) => l.slice(0, -1));
    const env = Object.fromEntries(variables.map((v) => [v, v.includes('ADMIN') ? QUICK_ENV.SWITCHBOARD_ADMIN_PASSWORD : QUICK_ENV.CSTA_PASSWORD]));
    expect(readFileSync(path.join(cwd, 'acme/admins.yaml'), 'utf8')).toContain('username: acme-admin');
    const planned = sb(['plan', 'acme', '--detailed-exitcode'], { cwd, env });
    expect(planned.stderr).toBe('');
    expect(planned.status).toBe(0);
  });

  it('export --company round-trips: its plan shows no changes, owns that company and its one-company admin accounts, leaves the rest alone', async () => {
    const h = await quickstart();
    h.write(
      'config/globex.yaml',
      `${doc('Company')}name: globex\n---\n${doc('Domain')}company: globex\nname: hq\n---\n${doc('Group')}domain: globex/hq\nname: Everyone\n---\n` +
        `${doc('AdminAccount')}username: globex-admin\npassword: \${env:SWITCHBOARD_ADMIN_PASSWORD}\ncompanies: [globex]\n---\n` +
        `${doc('AdminAccount')}username: both-admin\npassword: \${env:SWITCHBOARD_ADMIN_PASSWORD}\ncompanies: [acme, globex]\n---\n` +
        `${doc('AdminAccount')}username: root\npassword: \${env:SWITCHBOARD_ADMIN_PASSWORD}\nsuperUser: true\n`,
    );
    expect((await h.cli(['apply', 'config', '--auto-approve'])).status).toBe(0);
    // The exported placeholders, set to the values applied (every admin shares one password here).
    const secrets = (dir: string) =>
      Object.fromEntries(
        h.read(`${dir}/secrets.env.example`).split('\n').filter((l) => /^[A-Z0-9_]+=$/.test(l)).map((l) => {
          const v = l.slice(0, -1);
          return [v, v.includes('ADMIN') ? QUICK_ENV.SWITCHBOARD_ADMIN_PASSWORD : QUICK_ENV.CSTA_PASSWORD];
        }),
      );
    for (const company of ['acme', 'globex']) {
      expect((await h.cli(['export', '--company', company, '--out', company])).status).toBe(0);
      expect(h.read(`${company}/.switchboard-company`)).toBe(`${company}\n`);
      // Its one-company admin, not the super user nor the admin of both.
      expect(h.read(`${company}/admins.yaml`)).toContain(`username: ${company}-admin`);
      expect(h.read(`${company}/admins.yaml`)).not.toMatch(/both-admin|root/);
      const planned = await h.cli(['plan', company, '--detailed-exitcode'], { env: secrets(company) });
      expect(planned.stderr).toBe('');
      expect(planned.stdout).toContain('No changes');
      expect(planned.status).toBe(0);
    }
    // Without the scope file the same directory is the whole server: the rest would be deleted.
    rmSync(path.join(h.dir, 'globex/.switchboard-company'));
    const whole = await h.cli(['plan', 'globex', '--format', 'json'], { env: secrets('globex') });
    const deleted = (JSON.parse(whole.stdout) as Plan).changes.filter((c) => c.action === 'delete').map((c) => `${c.kind}/${c.id}`);
    expect(deleted).toEqual(expect.arrayContaining(['Company/acme', 'AdminAccount/acme-admin', 'AdminAccount/both-admin', 'AdminAccount/root']));
    // A scoped directory declares nothing outside its company.
    h.write('globex/.switchboard-company', 'globex\n');
    h.write('globex/other.yaml', `${doc('AdminAccount')}username: root2\npassword: \${env:SWITCHBOARD_ADMIN_PASSWORD}\nsuperUser: true\n`);
    const outside = await h.cli(['plan', 'globex'], { env: secrets('globex') });
    expect(outside.status).toBe(1);
    expect(outside.stderr).toContain("scopes this configuration to company 'globex', but it declares AdminAccount 'root2'");
  });
});

describe('docs/plan.md — how the diff works', () => {
  const keep = (v: unknown) => v;
  const same = (kind: KindName, a: Record<string, unknown>, b: Record<string, unknown>) => sameValue(canonicalize(kind, a, keep), canonicalize(kind, b, keep));

  it('lists whose order means nothing compare equal in any order: group members, admin companies, dial-plan tests', () => {
    expect(same('Group', { domain: 'a/b', name: 'g', members: ['x', 'y'] }, { domain: 'a/b', name: 'g', members: ['y', 'x'] })).toBe(true);
    expect(same('AdminAccount', { username: 'r', companies: ['a', 'b'] }, { username: 'r', companies: ['b', 'a'] })).toBe(true);
    const t1 = { number: '1', expect: '1' };
    const t2 = { number: '2', expect: '2' };
    expect(same('DialPlan', { domain: 'a/b', tests: [t1, t2] }, { domain: 'a/b', tests: [t2, t1] })).toBe(true);
  });

  it('lists whose order matters differ when reordered: devices, parameter overrides', () => {
    const d1 = { number: '1', protocol: 'CSTA' };
    const d2 = { number: '2', protocol: 'CSTA' };
    expect(same('User', { domain: 'a/b', username: 'u', devices: [d1, d2] }, { domain: 'a/b', username: 'u', devices: [d2, d1] })).toBe(false);
    const o1 = { domain: 'paris', value: '1' };
    const o2 = { group: 'paris/All', value: '2' };
    const p = (overrides: unknown[]) => ({ company: 'a', application: 'TWS Caller', name: 'vmNumber', overrides });
    expect(same('ApplicationParameter', p([o1, o2]), p([o2, o1]))).toBe(false);
  });

  it('a default written out or left out is the same', () => {
    expect(same('PbxLink', { domain: 'a/b', name: 'l', protocol: 'csta', ip: '192.0.2.1', port: 3211 }, { domain: 'a/b', name: 'l', protocol: 'csta', ip: '192.0.2.1', port: 3211, capacity: canonicalize('PbxLink', { domain: 'a/b', name: 'l', protocol: 'csta', ip: '192.0.2.1', port: 3211 }, keep).capacity as number })).toBe(true);
  });

  it.each<[string, KindName, Record<string, unknown>, Record<string, unknown>, string]>([
    ["a PBX link's protocol", 'PbxLink', { domain: 'a/b', name: 'l', protocol: 'csta', ip: '192.0.2.1', port: 3211 }, { domain: 'a/b', name: 'l', protocol: 'sip', ip: '192.0.2.1' }, 'protocol'],
    ["a connector's subtype", 'Connector', { company: 'a', name: 'c', subtype: 'Exchange365' }, { company: 'a', name: 'c', subtype: 'ExchangeOnline' }, 'subtype'],
    ["a directory's server type", 'Directory', { domain: 'a/b', name: 'd', serverType: 'LDAP' }, { domain: 'a/b', name: 'd', serverType: 'CSV' }, 'serverType'],
    ["an import's source", 'UserImport', { domain: 'a/b', name: 'i', source: 'ldap' }, { domain: 'a/b', name: 'i', source: 'activeDirectory' }, 'source'],
  ])('replace, not update, when %s changes', (_what, kind, before, after, field) => {
    expect(immutableChanges(kind, before, after)).toContain(field);
    const d: DesiredResource = { kind, id: 'x', body: canonicalize(kind, after, keep) };
    const live = { resource: { kind, id: 'x', body: before, manager: 'config' as const, revision: 1, updatedAt: '', updatedBy: 'config', updatedVia: 'plan' as const }, body: canonicalize(kind, before, keep) };
    const [change] = diff([d], [live]).changes;
    expect(change).toMatchObject({ action: 'replace', kind, id: 'x' });
    expect(change?.action === 'replace' && change.reason).toContain(field);
  });

  it('fields the runtime changes in place (an IP, a first name) are updates', () => {
    expect(immutableChanges('PbxLink', { protocol: 'csta', ip: '192.0.2.1' }, { protocol: 'csta', ip: '192.0.2.2' })).toEqual([]);
    expect(immutableChanges('User', { username: 'u', firstName: 'A' }, { username: 'u', firstName: 'B' })).toEqual([]);
  });

  it('orders creates by the documented dependency order and deletions in reverse', () => {
    // plan.md: companies → admin accounts, licences → domains → dial plans, links, templates,
    // calendar servers, SMS providers, connectors → groups, directories, imports → users,
    // intercom groups, queues, bots → authorizations, parameters.
    const documented: KindName[] = ['Company', 'AdminAccount', 'License', 'Domain', 'DialPlan', 'PbxLink', 'PresenceTemplate', 'CalendarServer', 'SmsProvider', 'Connector', 'Group', 'Directory', 'UserImport', 'User', 'IntercomGroup', 'CallQueue', 'BotGroup', 'Authorization', 'ApplicationParameter'];
    expect(KIND_NAMES.filter((k) => k !== 'Contact')).toEqual(documented);
    const shuffled = [...documented].sort().reverse();
    const desired = shuffled.map((kind) => ({ kind, id: `acme/${kind}`, body: {} }));
    expect(diff(desired, []).changes.map((c) => c.kind)).toEqual(documented);
    const live = shuffled.map((kind) => ({ resource: { kind, id: `acme/${kind}`, body: {}, manager: 'config' as const, revision: 1, updatedAt: '', updatedBy: 'config', updatedVia: 'plan' as const }, body: {} }));
    expect(diff([], live).changes.map((c) => c.kind)).toEqual([...documented].reverse());
  });
});

describe('docs/plan.md — safety', () => {
  const del = (kind: KindName, id: string, before: Record<string, unknown> = {}) => ({ action: 'delete' as const, kind, id, before, impact: [] });
  const rep = (kind: KindName, id: string, before: Record<string, unknown>) => ({ action: 'replace' as const, kind, id, before, after: {}, fields: [], reason: 'x', impact: [] });

  it('deleting any Company, Domain or PBX link needs --allow-destroy=KIND, however many exist', () => {
    for (const kind of ['Company', 'Domain', 'PbxLink'] as const) {
      const plan = { changes: [del(kind, 'a')], liveCounts: { [kind]: 1000 } };
      expect(checkSafety(plan, { allowDestroy: new Set() }).map((p) => `${p.code} ${p.kind}`)).toEqual([`destroy-kind ${kind}`]);
      expect(checkSafety(plan, { allowDestroy: new Set([kind]) })).toEqual([]);
    }
  });

  it('a protect: true resource is never replaced either, even with --allow-destroy', () => {
    const problems = checkSafety({ changes: [rep('PbxLink', 'acme/paris/pbx', { protect: true })], liveCounts: { PbxLink: 1 } }, { allowDestroy: new Set(['PbxLink']) });
    expect(problems.map((p) => p.code)).toEqual(['protected']);
    expect(problems[0]!.message).toContain('would be replaced');
  });

  it('admin account deletes count for the threshold: deleting 6 of 12 is refused without --allow-destroy=AdminAccount', async () => {
    const h = await quickstart();
    const admins = (n: number) => Array.from({ length: n }, (_, i) => `${doc('AdminAccount')}username: ops${i}\npassword: \${env:SWITCHBOARD_ADMIN_PASSWORD}\ncompanies: [acme]\n`).join('---\n');
    h.write('config/ops.yaml', admins(11)); // and acme-admin: 12
    expect((await h.cli(['apply', 'config', '--auto-approve'])).status).toBe(0);
    const revision = h.revision();
    h.write('config/ops.yaml', admins(5));
    const refused = await h.cli(['apply', 'config', '--auto-approve']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('the plan deletes 6 of 12 adminaccounts (50%), over the 30% threshold: check the configuration, then re-run with --allow-destroy=AdminAccount');
    expect(h.revision()).toBe(revision);
    expect((await h.cli(['apply', 'config', '--auto-approve', '--allow-destroy=AdminAccount'])).status).toBe(0);
    expect(h.live('AdminAccount', 'ops5')).toBeUndefined();
  });

  it('apply refuses before sending anything: the runtime revision does not move', async () => {
    const h = await quickstart();
    h.edit('config/links.yaml', (t) => t.replace('pbxType: A5000', 'pbxType: A5000\nprotect: true'));
    expect((await h.cli(['apply', 'config', '--auto-approve'])).status).toBe(0);
    h.edit('config/links.yaml', (t) => t.replace('protocol: csta', 'protocol: sip').replace(/pbxType: A5000\n|username: tws\n|password: .*\n|capacity: 100\n/g, ''));
    h.edit('config/users.yaml', (t) => t.replace(/protocol: CSTA\n\s+link: pbx/g, 'protocol: SIP'));
    const r = await h.cli(['apply', 'config', '--auto-approve', '--allow-destroy=PbxLink']);
    expect(r.stdout).toContain('∓ replace PbxLink acme/paris/pbx');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("PbxLink 'acme/paris/pbx' is protected (protect: true) and would be replaced");
    expect(h.revision()).toBe(1);
  });
});

describe('docs/plan.md — secrets and saved plans', () => {
  it('apply PLANFILE re-resolves each secret and refuses when its value changed since planning', async () => {
    const h = await quickstart();
    expect((await h.cli(['plan', 'config', '--out', 'plan.json'])).status).toBe(0);
    const saved = h.read('plan.json');
    for (const secret of Object.values(QUICK_ENV)) expect(saved).not.toContain(secret);
    expect(saved).toContain('"ref": "${env:CSTA_PASSWORD}"');
    expect(saved).toMatch(/"\$secret": "hmac-sha256:/);
    const r = await h.cli(['apply', 'plan.json'], { env: { CSTA_PASSWORD: 'changed-since-the-plan' } });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("PbxLink 'acme/paris/pbx' field password: the secret's value changed since the plan was made: make a new plan");
    expect(h.revision()).toBe(0);
    expect((await h.cli(['apply', 'plan.json'])).status).toBe(0);
  });

  it('a literal secret applies from the directory, not from a saved plan', async () => {
    const h = await quickstart();
    h.edit('config/links.yaml', (t) => t.replace('${env:CSTA_PASSWORD}', 'literal-Pa55'));
    const plan = await h.cli(['plan', 'config', '--out', 'plan.json']);
    expect(plan.stderr).toContain('[secret-literal]');
    expect(h.read('plan.json')).not.toContain('literal-Pa55');
    const fromPlan = await h.cli(['apply', 'plan.json']);
    expect(fromPlan.status).toBe(1);
    expect(fromPlan.stderr).toContain('it was written literally in YAML: apply from the configuration directory');
    expect(h.revision()).toBe(0);
    expect((await h.cli(['apply', 'config', '--auto-approve'])).status).toBe(0);
  });
});

describe('docs/plan.md — the plan file', () => {
  it('has exactly the documented top-level fields; --format json prints the same value --out saves', async () => {
    const h = await quickstart();
    const r = await h.cli(['plan', 'config', '--format', 'json', '--out', 'plan.json', '--target', 'acme']);
    expect(r.status).toBe(0);
    const printed = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(printed).toEqual(JSON.parse(h.read('plan.json')));
    expect(Object.keys(printed).sort()).toEqual(['changes', 'config', 'createdAt', 'formatVersion', 'impact', 'liveCounts', 'runtime', 'summary', 'targets', 'unmanaged', 'warnings']);
    expect(printed.formatVersion).toBe(1);
    expect(new Date(printed.createdAt as string).toISOString()).toBe(printed.createdAt);
    expect(Object.keys(printed.runtime as object).sort()).toEqual(['location', 'revision']);
    expect(Object.keys(printed.impact as object).sort()).toEqual(['access', 'licences', 'notSupervised', 'restarts', 'supervisionStarts', 'supervisionStops', 'syncReruns', 'syncUnsupported']);
    expect((printed.config as { digest: string }).digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const change = (printed.changes as Record<string, unknown>[])[0]!;
    for (const k of Object.keys(change)) expect(['action', 'kind', 'id', 'before', 'after', 'fields', 'reason', 'drift', 'dialPlan', 'impact']).toContain(k);
  });

  it('config.digest is of the canonical desired state: the same for the same state written differently, secrets by fingerprint', async () => {
    const h = await quickstart();
    const digest = async (env: Record<string, string> = {}) => (JSON.parse((await h.cli(['plan', 'config', '--format', 'json'], { env })).stdout) as Plan).config.digest;
    const first = await digest();
    h.edit('config/users.yaml', (t) => t.replace('members: [alice, bruno, chloe, david, emma]', 'members: [emma, david, chloe, bruno, alice]'));
    h.edit('config/links.yaml', (t) => `${t}# a comment\n`);
    expect(await digest()).toBe(first);
    expect(await digest({ CSTA_PASSWORD: 'another' })).not.toBe(first);
  });
});

describe('docs/plan.md — renderers', () => {
  it('text is plain when piped (compiled CLI) and with NO_COLOR, coloured on a terminal', () => {
    const cwd = quickstartWorkDir();
    const piped = sb(['plan', 'config'], { cwd, env: QUICK_ENV });
    expect(piped.stdout).toContain('+ create');
    expect(piped.stdout).not.toContain('\u001b[');
    const saved = process.env.NO_COLOR;
    try {
      delete process.env.NO_COLOR;
      expect(useColour({ isTTY: true } as NodeJS.WriteStream)).toBe(true);
      expect(useColour({ isTTY: false } as NodeJS.WriteStream)).toBe(false);
      process.env.NO_COLOR = '';
      expect(useColour({ isTTY: true } as NodeJS.WriteStream)).toBe(false);
    } finally {
      if (saved === undefined) delete process.env.NO_COLOR;
      else process.env.NO_COLOR = saved;
    }
  });

  it('markdown details at most 100 changes per company and kind, and counts the rest', async () => {
    const names = Array.from({ length: 150 }, (_, i) => `u${String(i).padStart(3, '0')}`);
    const resources: Resource[] = [
      { kind: 'Company', id: 'acme', body: { name: 'acme' } },
      { kind: 'Domain', id: 'acme/paris', body: { company: 'acme', name: 'paris' } },
      ...names.map((n) => ({ kind: 'User' as const, id: `acme/paris/${n}`, body: { domain: 'acme/paris', username: n } })),
    ].map((r) => ({ ...r, secrets: [], source: { file: 'x.yaml', doc: 0, path: [] } }) as unknown as Resource);
    const plan = await makePlan({ resources } as unknown as DesiredState, fixtureRuntime({ revision: 0, resources: [] }), { root: 'cfg' });
    const md = renderMarkdown(plan);
    const section = md.slice(md.indexOf('<details><summary>acme — User: 150 create</summary>'));
    expect(section.match(/^\+ \+ create User /gm)).toHaveLength(100);
    expect(section).toContain('# … and 50 more (the JSON plan has every change)');
    expect(md.indexOf('### Plan: 152 to create')).toBe(0); // the summary first
  });
});

describe('docs/plan.md — warnings', () => {
  it('license-exceeded: the plan warns, and the runtime refuses the change set, applying nothing', async () => {
    const h = await quickstart();
    expect((await h.cli(['apply', 'config', '--auto-approve'])).status).toBe(0);
    // Seven more users in group All, and the Caller licence raised to 20: valid as a whole.
    const more = ['fanny', 'gael', 'hugo', 'ines', 'jules', 'karim', 'lea'];
    h.write('config/more.yaml', users(more));
    h.edit('config/users.yaml', (t) => t.replace('members: [alice, bruno, chloe, david, emma]', `members: [alice, bruno, chloe, david, emma, ${more.join(', ')}]`));
    h.edit('config/company.yaml', (t) => t.replace(/(application: Caller\s+available: )10/, '$120'));
    // …but planned without the licence (--target), 12 users would hold 10 licences.
    const targets = ['--target', 'User', '--target', 'Group'];
    const r = await h.cli(['plan', 'config', '--format', 'json', ...targets]);
    const plan = JSON.parse(r.stdout) as Plan;
    expect(plan.warnings).toEqual([expect.objectContaining({ code: 'license-exceeded' })]);
    expect(plan.warnings[0]!.message).toContain('Caller in company \'acme\' would be used by 12 users but 10 licences are available: the runtime will refuse this plan');
    expect(plan.impact.licences).toEqual([{ company: 'acme', application: 'Caller', before: 5, after: 12, available: 10 }]);
    const applied = await h.cli(['apply', 'config', '--auto-approve', ...targets]);
    expect(applied.stdout).toContain('Warning: Caller in company');
    expect(applied.status).toBe(1);
    expect(applied.stderr).toContain('nothing applied');
    expect(h.revision()).toBe(1);
    expect(h.live('User', 'acme/paris/fanny')).toBeUndefined();
    // The whole configuration (licence included) applies.
    expect((await h.cli(['apply', 'config', '--auto-approve'])).status).toBe(0);
    expect(existsSync(path.join(h.dir, '.switchboard'))).toBe(true);
  });
});
