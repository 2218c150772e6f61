/** The shipped examples are valid, warning-free, and match the editor schema. */
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import jsYaml from 'js-yaml';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { validateConfig } from '../src/validate/validate.js';
import { processSecretSource } from '../src/config/secrets.js';
import { listConfigFiles } from '../src/config/tree.js';
import { formatDiagnostic } from '../src/diagnostics.js';

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/** Every ${env:NAME} used by an example, set to a dummy value. */
function envFor(dir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const f of listConfigFiles(dir)) for (const m of readFileSync(f.absolute, 'utf8').matchAll(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g)) env[m[1]!] = `dummy-${m[1]}`;
  return env;
}

const examples = readdirSync('examples', { withFileTypes: true })
  .filter((e) => e.isDirectory() && e.name !== 'ci')
  .map((e) => `examples/${e.name}`);

describe('examples', () => {
  it('include quickstart and multi-site', () => {
    expect(examples).toEqual(expect.arrayContaining(['examples/quickstart', 'examples/multi-site']));
  });

  it.each(examples)('%s is valid with no warnings', (dir) => {
    const r = validateConfig(dir, { secrets: processSecretSource(envFor(dir)) });
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([]);
    expect(r.state.resources.length).toBeGreaterThan(10);
  });

  it('multi-site models the manual: two domains, VTI-XML with site.cluster, shared intercom group, queue Accueil, AD import, LDAP directory, Exchange365', () => {
    const r = validateConfig('examples/multi-site', { secrets: processSecretSource(envFor('examples/multi-site')) });
    const ids = (kind: string) => r.state.resources.filter((x) => x.kind === kind);
    expect(ids('Domain').map((d) => d.id).sort()).toEqual(['SSDEI/Nice', 'SSDEI/Paris']);
    expect(ids('PbxLink').some((l) => l.body.protocol === 'vtixml' && typeof l.body.siteCluster === 'string')).toBe(true);
    expect(ids('CallQueue').map((q) => q.body.name)).toContain('Accueil');
    expect(ids('UserImport').some((i) => i.body.source === 'activeDirectory')).toBe(true);
    expect(ids('Directory').some((d) => d.body.serverType === 'LDAP')).toBe(true);
    expect(ids('Connector').some((c) => c.body.subtype === 'Exchange365')).toBe(true);
    const shared = ids('Authorization').find((a) => (a.body.object as Record<string, unknown>).intercomGroup !== undefined && String((a.body.grantee as Record<string, unknown>).group ?? '').includes('/'));
    expect(shared).toBeDefined();
  });

  it('a missing secret variable is an error at its line', () => {
    const env = envFor('examples/quickstart');
    delete env.CSTA_PASSWORD;
    const r = validateConfig('examples/quickstart', { secrets: processSecretSource(env) });
    expect(r.ok).toBe(false);
    expect(r.diagnostics.map((d) => `${d.file} ${d.code}`)).toEqual(['examples/quickstart/links.yaml secret-env-missing']);
  });
});

describe('editor schema (schemas/switchboard.schema.json)', () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true, discriminator: true });
  addFormats(ajv);
  const validate = ajv.compile(JSON.parse(readFileSync('schemas/switchboard.schema.json', 'utf8')));
  const docs = examples.flatMap((dir) => listConfigFiles(dir).flatMap((f) => jsYaml.loadAll(readFileSync(f.absolute, 'utf8'), undefined, { schema: jsYaml.CORE_SCHEMA }).map((d, i) => [`${f.file}#${i}`, d] as const)));

  it.each(docs)('accepts %s', (_name, doc) => {
    expect(validate(doc) ? [] : validate.errors).toEqual([]);
  });

  it('rejects an unknown field and an unknown kind', () => {
    expect(validate({ apiVersion: 'switchboard/v1', kind: 'Company', name: 'a', nmae: 'b' })).toBe(false);
    expect(validate({ apiVersion: 'switchboard/v1', kind: 'Compagny', name: 'a' })).toBe(false);
    expect(validate({ apiVersion: 'switchboard/v1', kind: 'User', domain: 'a/b', items: [{ username: 'x', fristName: 'y' }] })).toBe(false);
    expect(validate({ apiVersion: 'switchboard/v1', kind: 'User', domain: 'a/b', items: [{ username: 'x' }] })).toBe(true);
  });
});
