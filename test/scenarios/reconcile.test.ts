/**
 * The reconciler end to end, against the embedded runtime and a real HTTP server:
 * plan → apply → plan is empty, and the scenarios of issue #4.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Harness, type Mode } from './harness.js';
import { listConfigFiles } from '../../src/config/tree.js';

const QUICK_ENV = { CSTA_PASSWORD: 'csta-secret-1', SWITCHBOARD_ADMIN_PASSWORD: 'admin-secret-1' };

function envFor(dir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const f of listConfigFiles(dir)) for (const m of readFileSync(f.absolute, 'utf8').matchAll(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g)) env[m[1]!] = `value-of-${m[1]}`;
  return env;
}

const USERS = (names: string[], extra = '') =>
  `apiVersion: switchboard/v1\nkind: User\ndomain: acme/paris\nitems:\n${names
    .map((n, i) => `  - username: ${n}\n    firstName: ${n}\n    email: ${n}@example.com\n    devices:\n      - number: "${2001 + i}"\n        protocol: CSTA\n${extra}`)
    .join('')}`;

describe.each<Mode>(['embedded', 'http'])('reconciler against the %s runtime', (mode) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function quickstart(): Promise<Harness> {
    h = await Harness.start(mode, QUICK_ENV);
    h.useConfig('examples/quickstart');
    return h;
  }

  it('creates from empty; then plan is empty (idempotent)', async () => {
    const h = await quickstart();
    const plan = await h.cli(['plan', 'config', '--detailed-exitcode']);
    expect(plan.stderr).toBe('');
    expect(plan.status).toBe(2);
    expect(plan.stdout).toMatch(/Plan: 14 to create, 0 to update, 0 to replace, 0 to delete\./);
    const apply = await h.cli(['apply', 'config', '--auto-approve']);
    expect(apply.stdout).toMatch(/Applied 14 changes\. Runtime revision is now \d+\./);
    expect(apply.status).toBe(0);
    expect(h.live('User', 'acme/paris/alice')?.manager).toBe('config');
    const again = await h.cli(['plan', 'config', '--detailed-exitcode']);
    expect(again.stdout).toContain('No changes.');
    expect(again.status).toBe(0);
  });

  it.each(readdirSync('examples').filter((d) => d !== 'ci'))('example %s: plan after apply is empty', async (example) => {
    const dir = path.join('examples', example);
    h = await Harness.start(mode, envFor(dir));
    h.useConfig(dir);
    expect((await h.cli(['apply', 'config', '--auto-approve'])).status).toBe(0);
    const again = await h.cli(['plan', 'config', '--detailed-exitcode']);
    expect(again.stdout).toContain('No changes.');
    expect(again.status).toBe(0);
  });

  it('adds, updates and deletes a user', async () => {
    const h = await quickstart();
    await h.cli(['apply', 'config', '--auto-approve']);
    h.write('config/more.yaml', USERS(['zoe']));
    h.edit('config/users.yaml', (t) => t.replace(/firstName: Alice/, 'firstName: Alicia'));
    let r = await h.cli(['apply', 'config', '--auto-approve']);
    expect(r.stdout).toContain('+ create  User acme/paris/zoe');
    expect(r.stdout).toContain('~ update  User acme/paris/alice');
    expect(r.stdout).toMatch(/firstName: "Alice" → "Alicia"/);
    expect(h.live('User', 'acme/paris/alice')?.body.firstName).toBe('Alicia');
    h.write('config/more.yaml', '');
    r = await h.cli(['apply', 'config', '--auto-approve']);
    expect(r.stdout).toContain('- delete  User acme/paris/zoe');
    expect(h.live('User', 'acme/paris/zoe')).toBeUndefined();
    expect((await h.cli(['plan', 'config', '--detailed-exitcode'])).status).toBe(0);
  });

  it("shows the restart a PBX link's IP change causes, from the engines", async () => {
    const h = await quickstart();
    await h.cli(['apply', 'config', '--auto-approve']);
    h.edit('config/links.yaml', (t) => t.replace(/ip: \S+/, 'ip: 192.0.2.99'));
    const r = await h.cli(['plan', 'config']);
    expect(r.stdout).toMatch(/~ update {2}PbxLink acme\/paris\/\S+/);
    expect(r.stdout).toMatch(/restarts .* \d+ extensions? lose supervision meanwhile/);
  });

  it('shows a changed secret only as sensitive, and never prints it', async () => {
    const h = await quickstart();
    await h.cli(['apply', 'config', '--auto-approve']);
    const r = await h.cli(['plan', 'config', '--format', 'json'], { env: { CSTA_PASSWORD: 'csta-secret-2' } });
    const plan = JSON.parse(r.stdout) as { changes: { fields: { path: string; sensitive?: boolean }[] }[] };
    expect(plan.changes[0]!.fields).toEqual([{ path: 'password', sensitive: true }]);
    const text = await h.cli(['plan', 'config'], { env: { CSTA_PASSWORD: 'csta-secret-2' } });
    expect(text.stdout).toContain('password: (sensitive value changed)');
    for (const out of [r.stdout, r.stderr, text.stdout, text.stderr]) {
      expect(out).not.toContain('csta-secret-1');
      expect(out).not.toContain('csta-secret-2');
    }
    expect((await h.cli(['apply', 'config', '--auto-approve'], { env: { CSTA_PASSWORD: 'csta-secret-2' } })).status).toBe(0);
    expect((await h.cli(['plan', 'config', '--detailed-exitcode'], { env: { CSTA_PASSWORD: 'csta-secret-2' } })).status).toBe(0);
  });

  it('shows an out-of-band API edit as drift with who made it, and apply reverts it', async () => {
    const h = await quickstart();
    await h.cli(['apply', 'config', '--auto-approve']);
    await h.apiUpdate('User', 'acme/paris/alice', (b) => ({ ...b, firstName: 'Mallory' }));
    expect(h.live('User', 'acme/paris/alice')?.drifted).toBe(true);
    expect(h.live('User', 'acme/paris/alice')?.manager).toBe('config');
    const r = await h.cli(['plan', 'config']);
    expect(r.stdout).toMatch(/firstName: "Mallory" → "Alice"/);
    expect(r.stdout).toMatch(/drift: changed out of band by \S+ \(api, revision \d+/);
    await h.cli(['apply', 'config', '--auto-approve']);
    expect(h.live('User', 'acme/paris/alice')?.body.firstName).toBe('Alice');
    expect(h.live('User', 'acme/paris/alice')?.drifted).toBeFalsy();
  });

  it('refuses a stale saved plan and applies nothing', async () => {
    const h = await quickstart();
    await h.cli(['apply', 'config', '--auto-approve']);
    h.write('config/more.yaml', USERS(['zoe']));
    const saved = await h.cli(['plan', 'config', '--out', 'plan.json']);
    expect(saved.status).toBe(0);
    await h.apiUpdate('User', 'acme/paris/bruno', (b) => ({ ...b, firstName: 'Bruno2' }));
    const revision = h.revision();
    const r = await h.cli(['apply', 'plan.json']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/the plan was made at revision (\d+) and the runtime has moved to revision (?!\1)\d+ since; make a new plan \(switchboard plan /);
    expect(h.revision()).toBe(revision);
    expect(h.live('User', 'acme/paris/zoe')).toBeUndefined();
    // a fresh saved plan applies exactly
    await h.cli(['plan', 'config', '--out', 'plan.json']);
    const ok = await h.cli(['apply', 'plan.json']);
    expect(ok.status).toBe(0);
    expect(h.live('User', 'acme/paris/zoe')).toBeDefined();
  });

  it('refuses a mass delete until --allow-destroy', async () => {
    h = await Harness.start(mode, QUICK_ENV);
    h.useConfig('examples/quickstart');
    const names = Array.from({ length: 10 }, (_, i) => `u${i}`);
    h.write('config/more.yaml', USERS(names));
    h.edit('config/company.yaml', (t) => t.replace(/(application: Caller\s+available: )\d+/, '$120'));
    expect((await h.cli(['apply', 'config', '--auto-approve'])).status).toBe(0);
    h.write('config/more.yaml', USERS(names.slice(0, 5)));
    const refused = await h.cli(['apply', 'config', '--auto-approve']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('the plan deletes 5 of 15 users (33%), over the 30% threshold: check the configuration, then re-run with --allow-destroy=User');
    expect(h.live('User', 'acme/paris/u9')).toBeDefined();
    const allowed = await h.cli(['apply', 'config', '--auto-approve', '--allow-destroy=users']);
    expect(allowed.status).toBe(0);
    expect(h.live('User', 'acme/paris/u9')).toBeUndefined();
  });

  it('never deletes a protected resource', async () => {
    const h = await quickstart();
    h.write('config/more.yaml', USERS(['boss'], '    protect: true\n').replace('    protect: true\n', '').replace('  - username: boss\n', '  - username: boss\n    protect: true\n'));
    expect((await h.cli(['apply', 'config', '--auto-approve'])).status).toBe(0);
    h.write('config/more.yaml', '');
    const r = await h.cli(['apply', 'config', '--auto-approve', '--allow-destroy=User']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("User 'acme/paris/boss' is protected");
    expect(h.live('User', 'acme/paris/boss')).toBeDefined();
  });

  it('leaves users created by an import untouched', async () => {
    const h = await quickstart();
    await h.cli(['apply', 'config', '--auto-approve']);
    h.syncCreate('import:ad', [
      { kind: 'User', id: 'acme/paris/imported1', body: { domain: 'acme/paris', username: 'imported1', firstName: 'From AD' } },
      { kind: 'User', id: 'acme/paris/imported2', body: { domain: 'acme/paris', username: 'imported2', firstName: 'From AD' } },
    ]);
    const r = await h.cli(['plan', 'config', '--detailed-exitcode']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Unmanaged (not owned by config, never deleted): 2 by import:ad');
    await h.cli(['apply', 'config', '--auto-approve', '--allow-destroy=User']);
    expect(h.live('User', 'acme/paris/imported1')?.manager).toBe('import:ad');
  });

  it('exports the live state; export → validate → plan shows no changes', async () => {
    const h = await quickstart();
    await h.cli(['apply', 'config', '--auto-approve']);
    const r = await h.cli(['export', '--out', 'exported']);
    expect(r.status).toBe(0);
    const env = Object.fromEntries(
      readFileSync(path.join(h.dir, 'exported/secrets.env.example'), 'utf8')
        .split('\n')
        .filter((l) => /^[A-Z_0-9]+=$/.test(l))
        .map((l) => [l.slice(0, -1), 'placeholder']),
    );
    expect((await h.cli(['validate', 'exported'], { env })).status).toBe(0);
    // secrets exported as placeholders differ from the live values: plan shows only those as sensitive changes
    const plan = await h.cli(['plan', 'exported', '--format', 'json'], { env });
    const changes = (JSON.parse(plan.stdout) as { changes: { action: string; fields?: { sensitive?: boolean }[] }[] }).changes;
    expect(changes.every((c) => c.action === 'update' && c.fields!.every((f) => f.sensitive))).toBe(true);
    // with the real values, no changes at all
    const same = await h.cli(['plan', 'exported', '--detailed-exitcode'], {
      env: Object.fromEntries(Object.keys(env).map((k) => [k, /PBX|LINK|CSTA/.test(k) ? QUICK_ENV.CSTA_PASSWORD : QUICK_ENV.SWITCHBOARD_ADMIN_PASSWORD])),
    });
    expect(same.stdout).toContain('No changes.');
  });
});

describe('tenancy through the HTTP runtime', () => {
  it("a company admin's token cannot plan or apply another company, and can its own", async () => {
    const h = await Harness.start('http', { ...QUICK_ENV });
    try {
      h.useConfig('examples/quickstart');
      expect((await h.cli(['apply', 'config', '--auto-approve'])).status).toBe(0);
      const token = h.tokens!.create('acme-admin').token;
      // another company in the configuration
      h.write(
        'other/globex.yaml',
        'apiVersion: switchboard/v1\nkind: Company\nname: globex\n---\napiVersion: switchboard/v1\nkind: Domain\ncompany: globex\nname: hq\n',
      );
      const plan = await h.cli(['plan', 'other'], { token });
      expect(plan.status).toBe(1);
      expect(plan.stderr).toMatch(/403|forbidden|not allowed|globex/i);
      const apply = await h.cli(['apply', 'other', '--auto-approve'], { token });
      expect(apply.status).toBe(1);
      expect(h.live('Company', 'globex')).toBeUndefined();
      // its own company: fine
      h.edit('config/users.yaml', (t) => t.replace(/firstName: Alice/, 'firstName: Alicia'));
      h.write('config/admins.yaml', '');
      const own = await h.cli(['apply', 'config', '--auto-approve', '--target', 'acme'], { token });
      expect(own.stderr).toBe('');
      expect(own.status).toBe(0);
      expect(h.live('User', 'acme/paris/alice')?.body.firstName).toBe('Alicia');
    } finally {
      await h.close();
    }
  });
});

describe('apply asks before applying', () => {
  async function withPrompt(answer: string | undefined, tty: boolean) {
    const { PassThrough } = await import('node:stream');
    const { applyCommand } = await import('../../src/cli/reconcile.js');
    const h = await Harness.start('embedded', QUICK_ENV);
    h.useConfig('examples/quickstart');
    const stdin = new PassThrough() as unknown as NodeJS.ReadStream & InstanceType<typeof PassThrough>;
    (stdin as { isTTY?: boolean }).isTTY = tty;
    let out = '';
    let err = '';
    const sink = (f: (s: string) => void) => ({ write: (s: string) => (f(s), true), isTTY: false }) as unknown as NodeJS.WriteStream;
    if (answer !== undefined) setTimeout(() => stdin.end(`${answer}\n`), 50);
    const io = { stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)), env: { ...QUICK_ENV, NO_COLOR: '1' }, cwd: h.dir, stdin };
    let status: number;
    try {
      status = await applyCommand('config', {}, io);
    } catch (e) {
      status = -1;
      err += (e as Error).message;
    }
    const applied = h.revision() > 0;
    await h.close();
    return { status, out, err, applied };
  }

  it('applies on "yes" at the prompt', async () => {
    const r = await withPrompt('yes', true);
    expect(r.err).toContain("Apply these changes? Only 'yes' is accepted:");
    expect(r.status).toBe(0);
    expect(r.applied).toBe(true);
  });

  it('applies nothing on any other answer', async () => {
    const r = await withPrompt('y', true);
    expect(r.status).toBe(1);
    expect(r.err).toContain('Apply cancelled: nothing applied.');
    expect(r.applied).toBe(false);
  });

  it('refuses without a terminal unless --auto-approve', async () => {
    const r = await withPrompt(undefined, false);
    expect(r.err).toContain('refusing to apply without confirmation: there is no terminal to ask on');
    expect(r.applied).toBe(false);
  });
});
