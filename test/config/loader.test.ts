import { describe, expect, it } from 'vitest';
import jsYaml from 'js-yaml';
import * as YAML from 'yaml';
import { readFileSync } from 'node:fs';
import { header, tempDir, validateFiles, writeTree, short } from '../helpers.js';
import { listConfigFiles, loadTree } from '../../src/config/tree.js';

const base = {
  'company.yaml': `${header('Company')}name: acme\n---\n${header('Domain')}company: acme\nname: paris\n`,
};

describe('configuration tree', () => {
  it('loads *.yaml and *.yml recursively in a deterministic order, skipping dotfiles, .switchboard/ and other files', () => {
    const dir = tempDir();
    writeTree(dir, {
      'b.yaml': '',
      'a.yml': '',
      'sub/z.yaml': '',
      'sub/a.yaml': '',
      'A-upper.yaml': '',
      '.hidden.yaml': '',
      '.switchboard/state.yaml': '',
      '.git/config.yaml': '',
      'node_modules/x/y.yaml': '',
      'notes.txt': '',
      'README.md': '',
    });
    const files = listConfigFiles('.', dir).map((f) => f.file);
    expect(files).toEqual(['A-upper.yaml', 'a.yml', 'b.yaml', 'sub/a.yaml', 'sub/z.yaml']);
  });

  it('accepts a single file as the configuration', () => {
    const dir = tempDir();
    writeTree(dir, { 'one.yaml': base['company.yaml'], 'other.yaml': `${header('Company')}name: other\n` });
    const tree = loadTree('one.yaml', { cwd: dir });
    expect(tree.resources.map((r) => r.kind)).toEqual(['Company', 'Domain']);
  });

  it('gives every resource a stable id from its identity', () => {
    const r = validateFiles({
      ...base,
      'more.yaml': [
        `${header('User')}domain: acme/paris\nusername: jdoe\n`,
        `${header('Group')}domain: acme/paris\nname: All\nmembers: [jdoe]\n`,
        `${header('License')}company: acme\napplication: Caller\navailable: 5\n`,
        `${header('Authorization')}domain: acme/paris\nobject: { application: Caller }\ngrantee: { group: All }\n`,
        `${header('Authorization')}domain: acme/paris\nobject: { calendar: { user: jdoe } }\ngrantee: { group: All }\n`,
        `${header('ApplicationParameter')}company: acme\napplication: TWS Caller\nname: vmNumber\ndefault: "8000"\n`,
        `${header('AdminAccount')}username: root\npassword: \${env:P}\nsuperUser: true\n`,
      ].join('---\n'),
    }, { P: 'x' });
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(r.state.resources.map((x) => `${x.kind} ${x.id}`)).toEqual([
      'Company acme',
      'Domain acme/paris',
      'User acme/paris/jdoe',
      'Group acme/paris/All',
      'License acme/Caller',
      'Authorization acme/paris/application:Caller/group:All',
      'Authorization acme/paris/calendar:user:jdoe/group:All',
      'ApplicationParameter acme/TWS Caller/vmNumber',
      'AdminAccount root',
    ]);
  });

  it('expands list documents with the shared scope, and keeps item positions', () => {
    const r = validateFiles({
      ...base,
      'users.yaml': `${header('User')}domain: acme/paris\nitems:\n  - username: a\n  - username: b\n    fristName: B\n`,
    });
    expect(r.state.resources.filter((x) => x.kind === 'User').map((x) => x.id)).toEqual(['acme/paris/a']);
    expect(r.diagnostics.map(short)).toEqual(['users.yaml:7:5 unknown-field']);
  });

  it('points at the document-level scope when an inherited scope is wrong', () => {
    const r = validateFiles({ ...base, 'users.yaml': `${header('User')}domain: acme/pariss\nitems:\n  - username: a\n` });
    expect(r.diagnostics.map(short)).toEqual(['users.yaml:3:9 unresolved-reference']);
    expect(r.diagnostics[0]!.message).toContain("Did you mean 'paris'?");
  });

  it('refuses an item whose scope contradicts its list document', () => {
    const r = validateFiles({ ...base, 'users.yaml': `${header('User')}domain: acme/paris\nitems:\n  - username: a\n    domain: acme/nice\n` });
    expect(r.diagnostics.map(short)).toEqual(['users.yaml:6:13 scope-conflict']);
  });

  it('refuses fields beside items in a list document', () => {
    const r = validateFiles({ ...base, 'users.yaml': `${header('User')}domain: acme/paris\nculture: fr-FR\nitems:\n  - username: a\n` });
    expect(r.diagnostics.map(short)).toEqual(['users.yaml:4:1 list-document-field']);
  });

  it('reports an unknown kind with a suggestion', () => {
    const r = validateFiles({ 'x.yaml': `apiVersion: switchboard/v1\nkind: PbxLnk\n` });
    expect(r.diagnostics.map(short)).toEqual(['x.yaml:2:7 unknown-kind']);
    expect(r.diagnostics[0]!.message).toContain("Did you mean 'PbxLink'?");
  });

  it('ignores empty documents and comments-only files', () => {
    const r = validateFiles({ ...base, 'empty.yaml': '# nothing here\n', 'docs.yaml': '---\n---\n' });
    expect(r.diagnostics).toEqual([]);
  });
});

describe('the fast parser and the positional parser agree', () => {
  const files = [...listConfigFiles('examples').map((f) => f.absolute)];
  it.each(files)('%s', (file) => {
    const text = readFileSync(file, 'utf8');
    const fast = jsYaml.loadAll(text, undefined, { schema: jsYaml.CORE_SCHEMA });
    const slow = YAML.parseAllDocuments(text).map((d) => d.toJS());
    expect(fast).toEqual(slow);
  });

  it('agrees on the core-schema scalars that differ between YAML 1.1 and 1.2', () => {
    const text = 'a: yes\nb: no\nc: on\nd: 0o17\ne: 017\nf: 0x1F\ng: .inf\nh: ~\ni: 2026-01-01\nj: "00"\nk: 1e3\nl: +12\n';
    expect(jsYaml.load(text, { schema: jsYaml.CORE_SCHEMA })).toEqual(YAML.parse(text));
  });
});
