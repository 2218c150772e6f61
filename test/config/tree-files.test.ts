// No file of a configuration tree is dropped in silence (src/config/tree.ts, and the
// --committed-only source in src/watch/tree-source.ts): symbolic links inside the tree are
// followed, links that lead out, loop or are broken are reported, and so are directories that
// cannot be listed and `.yaml` names that are not regular files. A dropped file would make a
// plan delete what it declares.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { processSecretSource } from '../../src/config/secrets.js';
import { scanConfigTree } from '../../src/config/tree.js';
import { validateConfig } from '../../src/validate/validate.js';
import { GitHeadSource, WorkingTreeSource } from '../../src/watch/tree-source.js';
import { header, short, tempDir, writeTree, yaml } from '../helpers.js';
import { ACME_PARIS } from '../validate/base.js';
import { git, gitInit } from '../watch/helpers.js';

const users = (...names: string[]) =>
  header('User') +
  yaml`
    domain: acme/paris
    items:
  ` +
  names.map((n) => `  - username: ${n}\n`).join('');

function tree(files: Record<string, string | Buffer> = {}) {
  const base = tempDir();
  const root = path.join(base, 'config');
  writeTree(base, { 'outside/more.yaml': users('mallory') });
  writeTree(root, { 'company.yaml': ACME_PARIS, ...files });
  return { base, root };
}

function validate(root: string) {
  const r = validateConfig('.', { secrets: processSecretSource({}, root), cwd: root });
  return { list: r.diagnostics.map(short), messages: r.diagnostics.map((d) => d.message), users: r.state.resources.filter((x) => x.kind === 'User').map((x) => x.id).sort(), ok: r.ok };
}

const BIN = path.resolve('bin/switchboard.js');
const cli = (cwd: string, uid?: number) =>
  spawnSync(process.execPath, [BIN, 'validate', '.'], { cwd, encoding: 'utf8', env: { PATH: process.env.PATH }, ...(uid !== undefined ? { uid, gid: uid } : {}), timeout: 20_000 });

describe('symbolic links in the configuration tree', () => {
  it('a YAML file that is a link to a file inside the tree is read (once)', () => {
    const { root } = tree({ 'shared/users.yaml': users('alice') });
    symlinkSync('shared/users.yaml', path.join(root, 'users.yaml'));
    const r = validate(root);
    expect(r.users).toEqual(['acme/paris/alice']);
    expect(r.list).toEqual(['users.yaml:1:1 file-duplicate-path']);
    expect(r.ok).toBe(true);
  });

  it('a link to a YAML file elsewhere in the tree, not otherwise read, is followed', () => {
    const { root } = tree({ 'data/users.txt': users('alice') });
    symlinkSync('data/users.txt', path.join(root, 'users.yaml'));
    const r = validate(root);
    expect(r.list).toEqual([]);
    expect(r.users).toEqual(['acme/paris/alice']);
  });

  it('a directory that is a link inside the tree is walked', () => {
    const { root } = tree({ 'sites/.keep': '', 'store/paris/users.yaml': users('alice') });
    mkdirSync(path.join(root, 'view'));
    symlinkSync('../store', path.join(root, 'view/sites'));
    const r = validate(root);
    expect(r.users).toEqual(['acme/paris/alice']);
    expect(r.list).toEqual(['view/sites:1:1 file-duplicate-path']);
  });

  it('a YAML link leading outside the tree is refused with an error; a directory link, not followed, with a warning', () => {
    const { base, root } = tree({ 'users.yaml': users('alice') });
    symlinkSync(path.join(base, 'outside/more.yaml'), path.join(root, 'more.yaml'));
    symlinkSync(path.join(base, 'outside'), path.join(root, 'elsewhere'));
    const r = validate(root);
    expect(r.list).toEqual(['elsewhere:1:1 file-symlink-outside', 'more.yaml:1:1 file-symlink-outside']);
    expect(r.messages[0]).toContain('it is not followed, so YAML files under it are not read');
    expect(r.messages[1]).toContain('leads outside the configuration directory');
    expect(r.ok).toBe(false);
    expect(r.users).toEqual(['acme/paris/alice']);
  });

  it('a directory link back to an ancestor is a loop: an error, and the command ends', () => {
    const { root } = tree({ 'sub/users.yaml': users('alice') });
    symlinkSync('..', path.join(root, 'sub/up'));
    const r = validate(root);
    expect(r.list).toEqual(['sub/up:1:1 file-symlink-loop']);
    expect(r.users).toEqual(['acme/paris/alice']);
    const c = cli(root);
    expect(c.status).toBe(1);
    expect(c.stderr).toContain('sub/up:1:1: error: this symbolic link leads back to');
  });

  it('a link to itself and a pair of links pointing at each other are loops', () => {
    const { root } = tree();
    symlinkSync('self.yaml', path.join(root, 'self.yaml'));
    symlinkSync('b.yaml', path.join(root, 'a.yaml'));
    symlinkSync('a.yaml', path.join(root, 'b.yaml'));
    expect(validate(root).list).toEqual(['a.yaml:1:1 file-symlink-loop', 'b.yaml:1:1 file-symlink-loop', 'self.yaml:1:1 file-symlink-loop']);
  });

  it('a broken link named .yaml is an error; another broken link a warning', () => {
    const { root } = tree();
    symlinkSync('gone.yaml', path.join(root, 'users.yaml'));
    symlinkSync('gone-dir', path.join(root, 'sites'));
    const r = validate(root);
    expect(r.list).toEqual(['sites:1:1 file-unreadable', 'users.yaml:1:1 file-unreadable']);
    expect(r.ok).toBe(false);
  });
});

describe('files and directories that cannot be read', () => {
  it('a pipe named .yaml is reported at once, never read (reading would block)', () => {
    const { root } = tree();
    expect(spawnSync('mkfifo', [path.join(root, 'users.yaml')]).status).toBe(0);
    expect(validate(root).list).toEqual(['users.yaml:1:1 file-not-regular']);
  });

  it('an unreadable directory and an unreadable file are errors, for a user without the permission', () => {
    const { base, root } = tree({ 'users.yaml': users('alice'), 'locked/more.yaml': users('bob') });
    chmodSync(base, 0o755);
    chmodSync(root, 0o755);
    chmodSync(path.join(root, 'locked'), 0o000);
    chmodSync(path.join(root, 'users.yaml'), 0o000);
    chmodSync(path.join(root, 'company.yaml'), 0o644);
    const c = cli(root, 65534);
    expect(c.status).toBe(1);
    expect(c.stderr).toMatch(/^locked:1:1: error: cannot list this directory \(EACCES\).*\[dir-unreadable\]$/m);
    expect(c.stderr).toMatch(/^users\.yaml:1:1: error: cannot read file: EACCES.*\[file-unreadable\]$/m);
  });
});

describe('text encodings: say what the file is and how to fix it', () => {
  const company = `${header('Company')}name: acme\n`;
  it.each([
    ['UTF-16 LE with a byte-order mark', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(company, 'utf16le')]), 'UTF-16 LE text'],
    ['UTF-16 LE without a mark', Buffer.from(company, 'utf16le'), 'UTF-16 LE text'],
    ['UTF-16 BE with a byte-order mark', Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(company, 'utf16le').swap16()]), 'UTF-16 BE text'],
  ])('%s', (_name, bytes, what) => {
    const { root } = tree({ 'company.yaml': bytes });
    const r = validate(root);
    expect(r.list).toEqual(['company.yaml:1:1 file-not-text']);
    expect(r.messages[0]).toContain(what);
    expect(r.messages[0]).toContain('save it as UTF-8');
  });

  it('Windows-1252 text: the line of the first invalid byte, and the likely encoding', () => {
    const { root } = tree({ 'company.yaml': Buffer.concat([Buffer.from(`${company}# ok\n# caf`), Buffer.from([0xe9]), Buffer.from('\n')]) });
    const r = validate(root);
    expect(r.list).toEqual(['company.yaml:1:1 file-not-text']);
    expect(r.messages[0]).toContain('first invalid byte 0xe9 on line 5');
    expect(r.messages[0]).toContain('Windows-1252');
  });

  it('a UTF-8 byte-order mark is accepted', () => {
    const { root } = tree({ 'company.yaml': Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(ACME_PARIS)]) });
    expect(validate(root).list).toEqual([]);
  });
});

describe('watch sources see the same tree', () => {
  it('the working-tree source reports a link loop and a link leading out', () => {
    const { base, root } = tree({ 'users.yaml': users('alice') });
    symlinkSync('.', path.join(root, 'loop'));
    symlinkSync(path.join(base, 'outside/more.yaml'), path.join(root, 'more.yaml'));
    const snap = new WorkingTreeSource('.', { cwd: root }).load();
    expect(snap.tree.diagnostics.map((d) => `${d.at?.file} ${d.code}`)).toEqual(['loop file-symlink-loop', 'more.yaml file-symlink-outside']);
  });

  it('--committed-only: a committed link to a file inside is read once; a link leading out and a missing target are errors', () => {
    const { root } = tree({ 'shared/users.yaml': users('alice') });
    symlinkSync('shared/users.yaml', path.join(root, 'users.yaml'));
    symlinkSync('../outside/more.yaml', path.join(root, 'more.yaml'));
    symlinkSync('nowhere.yaml', path.join(root, 'gone.yaml'));
    gitInit(root);
    git(root, 'add', '-A');
    git(root, 'commit', '-qm', 'config');
    const snap = new GitHeadSource('.', { cwd: root }).load();
    expect(snap.tree.diagnostics.map((d) => `${d.at?.file} ${d.severity} ${d.code}`).sort()).toEqual([
      'gone.yaml error file-unreadable',
      'more.yaml error file-symlink-outside',
      'users.yaml warning file-duplicate-path',
    ]);
    expect(snap.tree.resources.filter((r) => r.kind === 'User')).toHaveLength(1);
  });
});

it('scanConfigTree lists in a deterministic order', () => {
  const { root } = tree({ 'b.yaml': users('b'), 'a/z.yml': users('z'), 'A.YAML': users('x'), 'notes.txt': 'x', '.hidden.yaml': 'x', 'node_modules/m.yaml': 'x' });
  expect(scanConfigTree('.', root).files.map((f) => f.file)).toEqual(['A.YAML', 'a/z.yml', 'b.yaml', 'company.yaml']);
  writeFileSync(path.join(root, 'c.yaml'), users('c'));
  expect(scanConfigTree('.', root).files.map((f) => f.file)).toEqual(['A.YAML', 'a/z.yml', 'b.yaml', 'c.yaml', 'company.yaml']);
});
