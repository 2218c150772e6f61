// `${file:…}` secret references are confined to the configuration directory and the
// directories given with --secrets-dir, after symbolic links are resolved
// (src/config/secrets.ts): a configuration cannot send an arbitrary file of the machine to a
// PBX or an LDAP server. Only regular files of bounded size and UTF-8 text are read.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { processSecretSource, MAX_SECRET_FILE_BYTES } from '../../src/config/secrets.js';
import { secretsFromReferences } from '../../src/apply/apply.js';
import { validateConfig } from '../../src/validate/validate.js';
import { short, tempDir, writeTree } from '../helpers.js';
import { ACME_PARIS, pbxLinkWithPassword } from '../validate/base.js';

const OUTSIDE_SECRET = 'outside-Secret-99';

const link = pbxLinkWithPassword;

/** A sandbox: `outside/` holds a file the configuration must not read; `config/` is the root. */
function sandbox(files: Record<string, string | Buffer>) {
  const base = tempDir();
  writeTree(base, { 'outside/secret.txt': `${OUTSIDE_SECRET}\n`, 'vault/csta.txt': 'vault-Secret-1\n' });
  const root = path.join(base, 'config');
  writeTree(root, { 'company.yaml': ACME_PARIS, ...files });
  return { base, root };
}

function validate(root: string, secretsDirs: string[] = []) {
  const r = validateConfig('.', { secrets: processSecretSource({}, root, { root: '.', secretsDirs }), cwd: root });
  return { list: r.diagnostics.map(short), messages: r.diagnostics.map((d) => d.message), state: r.state };
}

describe('${file:} references stay inside the configuration', () => {
  it('reads a file inside the configuration', () => {
    const { root } = sandbox({ 'links.yaml': link('${file:secrets/csta.txt}'), 'secrets/csta.txt': 'in-Secret\n' });
    expect(validate(root).list).toEqual([]);
  });

  it('refuses .. that climbs out of the configuration, at the reference, without reading the file', () => {
    const { root } = sandbox({ 'links.yaml': link('${file:../outside/secret.txt}') });
    const r = validate(root);
    expect(r.list).toEqual(['links.yaml:8:11 secret-file-outside']);
    expect(r.messages[0]).toContain('is outside the configuration directory');
    expect(r.messages[0]).toContain('--secrets-dir');
    expect(JSON.stringify(r)).not.toContain(OUTSIDE_SECRET);
  });

  it('refuses an escape even when the file does not exist (no probing of the machine)', () => {
    const { root } = sandbox({ 'links.yaml': link('${file:../../../../nowhere/secret.txt}') });
    expect(validate(root).list).toEqual(['links.yaml:8:11 secret-file-outside']);
  });

  it('refuses an absolute path', () => {
    const { base, root } = sandbox({});
    writeFileSync(path.join(root, 'links.yaml'), link(`\${file:${path.join(base, 'outside/secret.txt')}}`));
    const r = validate(root);
    expect(r.list).toEqual(['links.yaml:8:11 secret-file-outside']);
    expect(r.messages[0]).toContain('absolute path');
    expect(JSON.stringify(r)).not.toContain(OUTSIDE_SECRET);
  });

  it('refuses a symbolic link inside the tree that leads outside it', () => {
    const { base, root } = sandbox({ 'links.yaml': link('${file:secrets/csta.txt}') });
    mkdirSync(path.join(root, 'secrets'));
    symlinkSync(path.join(base, 'outside/secret.txt'), path.join(root, 'secrets/csta.txt'));
    const r = validate(root);
    expect(r.list).toEqual(['links.yaml:8:11 secret-file-outside']);
    expect(r.messages[0]).toContain('through a symbolic link');
    expect(JSON.stringify(r)).not.toContain(OUTSIDE_SECRET);
  });

  it('refuses a symbolic link to a directory outside', () => {
    const { base, root } = sandbox({ 'links.yaml': link('${file:secrets/secret.txt}') });
    symlinkSync(path.join(base, 'outside'), path.join(root, 'secrets'));
    expect(validate(root).list).toEqual(['links.yaml:8:11 secret-file-outside', 'secrets:1:1 file-symlink-outside']);
  });

  it('follows a symbolic link that stays inside', () => {
    const { root } = sandbox({ 'links.yaml': link('${file:current.txt}'), 'keys/v2.txt': 'v2-Secret\n' });
    symlinkSync('keys/v2.txt', path.join(root, 'current.txt'));
    expect(validate(root).list).toEqual([]);
  });

  it('--secrets-dir allows a directory elsewhere, by absolute path or relative path', () => {
    const { base, root } = sandbox({ 'links.yaml': link('${file:../vault/csta.txt}') });
    expect(validate(root).list).toEqual(['links.yaml:8:11 secret-file-outside']);
    expect(validate(root, [path.join(base, 'vault')]).list).toEqual([]);
    writeFileSync(path.join(root, 'links.yaml'), link(`\${file:${path.join(base, 'vault/csta.txt')}}`));
    expect(validate(root, [path.join(base, 'vault')]).list).toEqual([]);
    // the allowed directory is not a licence for its neighbours
    writeFileSync(path.join(root, 'links.yaml'), link(`\${file:${path.join(base, 'outside/secret.txt')}}`));
    expect(validate(root, [path.join(base, 'vault')]).list).toEqual(['links.yaml:8:11 secret-file-outside']);
  });
});

describe('${file:} reads only small regular text files', () => {
  it('a FIFO is refused at once instead of blocking the command', () => {
    const { root } = sandbox({ 'links.yaml': link('${file:pipe}') });
    const mk = spawnSync('mkfifo', [path.join(root, 'pipe')]);
    expect(mk.status).toBe(0);
    const r = validate(root);
    expect(r.list).toEqual(['links.yaml:8:11 secret-file-invalid']);
    expect(r.messages[0]).toContain('not a regular file');
  });

  it('a directory is refused', () => {
    const { root } = sandbox({ 'links.yaml': link('${file:secrets}'), 'secrets/x.txt': 'x' });
    expect(validate(root).list).toEqual(['links.yaml:8:11 secret-file-invalid']);
  });

  it('a file over the size limit is refused without being read', () => {
    const { root } = sandbox({ 'links.yaml': link('${file:big.txt}'), 'big.txt': 'x'.repeat(MAX_SECRET_FILE_BYTES + 1) });
    const r = validate(root);
    expect(r.list).toEqual(['links.yaml:8:11 secret-file-invalid']);
    expect(r.messages[0]).toContain(`over the ${MAX_SECRET_FILE_BYTES}-byte limit`);
  });

  it('a binary file is refused with how to fix it', () => {
    const { root } = sandbox({ 'links.yaml': link('${file:key.bin}'), 'key.bin': Buffer.from([0xff, 0xfe, 0x00, 0x41]) });
    const r = validate(root);
    expect(r.list).toEqual(['links.yaml:8:11 secret-file-invalid']);
    expect(r.messages[0]).toContain('base64');
  });
});

describe('a saved plan reads the same file as validate', () => {
  it('records a file reference relative to the configuration root, which apply resolves', () => {
    const { root } = sandbox({ 'paris/links.yaml': link('${file:secrets/csta.txt}'), 'paris/secrets/csta.txt': 'paris-Secret\n', 'secrets/csta.txt': 'wrong-Secret\n' });
    const r = validate(root);
    expect(r.list).toEqual([]);
    const pbx = r.state.resources.find((x) => x.kind === 'PbxLink')!;
    expect(pbx.secretRefs).toEqual({ password: '${file:paris/secrets/csta.txt}' });
    const values = secretsFromReferences(root, processSecretSource({}, root, { root: '.' }));
    expect(values('PbxLink', pbx.id, 'password', { $secret: 'x', ref: pbx.secretRefs!.password! })).toBe('paris-Secret');
  });

  it('apply of a saved plan refuses a reference that leads outside', () => {
    const { root } = sandbox({});
    const values = secretsFromReferences(root, processSecretSource({}, root, { root: '.' }));
    expect(values('PbxLink', 'acme/paris/pbx', 'password', { $secret: 'x', ref: '${file:../outside/secret.txt}' })).toBeUndefined();
  });
});

describe('switchboard validate --secrets-dir (compiled CLI)', () => {
  it('refuses an escape by default and accepts it with --secrets-dir', () => {
    const { base, root } = sandbox({ 'links.yaml': link('${file:../vault/csta.txt}') });
    const bin = path.resolve('bin/switchboard.js');
    const run = (args: string[]) => spawnSync(process.execPath, [bin, 'validate', '.', ...args], { cwd: root, encoding: 'utf8', env: { PATH: process.env.PATH } });
    const refused = run([]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^links\.yaml:8:11: error: secret file '\.\.\/vault\/csta\.txt' is outside the configuration directory .*--secrets-dir DIR .*\[secret-file-outside\]$/m);
    const allowed = run(['--secrets-dir', path.join(base, 'vault')]);
    expect(allowed.stderr).toBe('');
    expect(allowed.status).toBe(0);
  });
});
