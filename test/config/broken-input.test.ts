/**
 * A corpus of broken inputs: none may crash the loader or validator, and each must yield at
 * least one error diagnostic with a file and a position.
 */
import { describe, expect, it } from 'vitest';
import { closeSync, openSync, ftruncateSync } from 'node:fs';
import path from 'node:path';
import { header, short, tempDir, validateFiles, writeTree } from '../helpers.js';
import { validateConfig } from '../../src/validate/validate.js';
import { processSecretSource } from '../../src/config/secrets.js';
import { MAX_FILE_BYTES } from '../../src/config/tree.js';

const company = `${header('Company')}name: acme\n`;

const corpus: Record<string, string | Buffer> = {
  'truncated flow sequence': `${header('Group')}domain: acme/paris\nname: all\nmembers: [a, b`,
  'truncated mid-key': `${header('Company')}na`,
  'tab indentation': `${header('Group')}domain: acme/paris\nname: x\nmembers:\n\t- a\n`,
  'duplicate key': `${header('Company')}name: a\nname: b\n`,
  'unknown kind': `apiVersion: switchboard/v1\nkind: Usr\nusername: x\n`,
  'wrong apiVersion': `apiVersion: v2\nkind: Company\nname: x\n`,
  'no apiVersion': `kind: Company\nname: x\n`,
  'no kind': `apiVersion: switchboard/v1\nname: x\n`,
  'scalar document': `just a string\n`,
  'list document': `- a\n- b\n`,
  'items not a list': `${header('User')}domain: acme/paris\nitems: {a: 1}\n`,
  'item not a mapping': `${header('User')}domain: acme/paris\nitems: [3]\n`,
  'wrong types': `${header('Domain')}company: acme\nname: [1, 2]\ninternalLength: "four"\n`,
  'number instead of string': `${header('Company')}name: 42\n`,
  'binary junk': Buffer.from([0x00, 0x01, 0xff, 0xfe, 0x7f, 0x00, 0x13, 0x37]),
  'invalid utf-8': Buffer.from([0x6b, 0x69, 0x6e, 0x64, 0x3a, 0x20, 0xc3, 0x28, 0x0a]),
  'unclosed quote': `${header('Company')}name: "acme\n`,
  'bad indentation': `${header('User')}domain: acme/paris\nusername: x\n  devices: 3\n`,
  'billion laughs': [
    `${header('Company')}name: lol`,
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
    'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
    'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
    'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
    'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
    'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
    'h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]',
    'i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]',
    '',
  ].join('\n'),
  'recursive alias': `${header('Group')}domain: acme/paris\nname: x\nmembers: &m [a, *m]\n`,
  'deep nesting': `${header('Company')}name: ${'['.repeat(100_000)}\n`,
  'deep but parseable nesting': `${header('Company')}name: x\nextra: ${'['.repeat(200)}${']'.repeat(200)}\n`,
  'unknown tag': `${header('Company')}name: !!binary aGVsbG8=\n`,
  'mapping as key': `${header('Company')}? [a, b]\n: c\nname: x\n`,
  'secret file outside the tree': `${header('PbxLink')}domain: acme/paris\nname: pbx\nprotocol: csta\nport: 3211\nusername: u\npassword: \${file:../../../../etc/passwd}\nip: 192.0.2.1\n`,
  'secret file by absolute path': `${header('PbxLink')}domain: acme/paris\nname: pbx\nprotocol: csta\nport: 3211\nusername: u\npassword: \${file:/etc/hostname}\nip: 192.0.2.1\n`,
};

describe('broken inputs never crash and always yield located diagnostics', () => {
  it.each(Object.entries(corpus))('%s', (_name, content) => {
    const result = validateFiles({ 'company.yaml': company, 'broken.yaml': content });
    expect(result.ok).toBe(false);
    const errors = result.diagnostics.filter((d) => d.severity === 'error' && d.file === 'broken.yaml');
    expect(errors.length).toBeGreaterThan(0);
    for (const d of errors) {
      expect(d.line).toBeGreaterThanOrEqual(1);
      expect(d.column).toBeGreaterThanOrEqual(1);
      expect(d.message.length).toBeGreaterThan(10);
    }
  });

  it('points at the exact place of a syntax error', () => {
    const r = validateFiles({ 'company.yaml': company, 'broken.yaml': corpus['duplicate key']! });
    expect(r.diagnostics.map(short)).toContain('broken.yaml:4:1 yaml-duplicate-key');
    const tabs = validateFiles({ 'broken.yaml': corpus['tab indentation']! });
    expect(tabs.diagnostics.map(short)).toContain('broken.yaml:6:1 yaml-tab');
  });

  it('refuses billion laughs instead of expanding it, at the amplifying alias', () => {
    const r = validateFiles({ 'broken.yaml': corpus['billion laughs']! });
    expect(r.diagnostics.map(short)).toEqual(['broken.yaml:7:8 yaml-alias-limit']);
    expect(r.diagnostics[0]!.message).toMatch(/^alias \*c expands to \d+ values here: an anchor may be used at most 100 times.*: write the values out or use fewer aliases$/);
  });

  it.each([
    ['50,000 nested flow sequences', `${header('Company')}name: x\nextra: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n`, 'broken.yaml:4:72 yaml-too-deep'],
    ['20,000 nested flow mappings', `${header('Company')}name: x\nextra: ${'{a: '.repeat(20_000)}1${'}'.repeat(20_000)}\n`, 'broken.yaml:4:264 yaml-too-deep'],
    ['brackets in quotes and comments do not count', `${header('Company')}name: x\n# ${'['.repeat(100)}\nnote: "${'['.repeat(100)}"\nextra: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n`, 'broken.yaml:6:72 yaml-too-deep'],
    ['50,000 nested block sequences on one line', `${header('Company')}name: x\nextra:\n  ${'- '.repeat(50_000)}x\n`, 'broken.yaml:1:1 yaml-too-deep'],
  ])('%s: one located yaml-too-deep that says to flatten, never a stack overflow', (_name, text, expected) => {
    const r = validateFiles({ 'broken.yaml': text });
    expect(r.diagnostics.map(short)).toEqual([expected]);
    expect(r.diagnostics[0]!.message).toContain('flatten it');
    expect(r.diagnostics[0]!.message).not.toContain('call stack');
  });

  it('allows a few aliases (anchors are legitimate YAML)', () => {
    const r = validateFiles({
      'c.yaml': `${header('Company')}name: acme\n---\n${header('Domain')}company: acme\nname: paris\n`,
      'u.yaml': `${header('User')}domain: acme/paris\nitems:\n  - username: a\n    culture: &c fr-FR\n  - username: b\n    culture: *c\n`,
    });
    expect(r.diagnostics).toEqual([]);
    expect(r.state.resources.filter((x) => x.kind === 'User').map((x) => x.body.culture)).toEqual(['fr-FR', 'fr-FR']);
  });

  it('refuses a file over the size limit without reading it', () => {
    const dir = tempDir();
    writeTree(dir, { 'company.yaml': company });
    const big = path.join(dir, 'huge.yaml');
    // A sparse file: over the limit on disk metadata, but never written (nor read) in full.
    const fd = openSync(big, 'w');
    ftruncateSync(fd, MAX_FILE_BYTES + 1);
    closeSync(fd);
    const r = validateConfig('.', { secrets: processSecretSource({}, dir), cwd: dir });
    expect(r.diagnostics.map(short)).toEqual(['huge.yaml:1:1 file-too-large']);
    expect(r.diagnostics[0]!.message).toContain(`${MAX_FILE_BYTES}-byte limit`);
  });

  it('reports a missing configuration directory', () => {
    const dir = tempDir();
    const r = validateConfig('does-not-exist', { secrets: processSecretSource({}, dir), cwd: dir });
    expect(r.ok).toBe(false);
    expect(r.diagnostics[0]!.code).toBe('config-not-found');
  });

  it('survives random mutations of a valid file (seeded)', () => {
    const valid = `${header('User')}domain: acme/paris\nitems:\n  - username: jdoe\n    firstName: John\n    devices:\n      - number: "1001"\n        protocol: CSTA\n`;
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const alphabet = ['\n', ' ', '\t', ':', '-', '[', ']', '{', '}', '&', '*', '!', '"', "'", '#', '|', '>', '%', '@', '`', 'a', '1', '\u0000'];
    for (let i = 0; i < 300; i++) {
      const chars = [...valid];
      const edits = 1 + Math.floor(rand() * 4);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(rand() * chars.length);
        const op = rand();
        if (op < 0.4) chars.splice(at, 1);
        else if (op < 0.8) chars.splice(at, 0, alphabet[Math.floor(rand() * alphabet.length)]!);
        else chars.length = at; // truncate
      }
      const r = validateFiles({ 'm.yaml': chars.join('') });
      for (const d of r.diagnostics) {
        expect(d.file).toBe('m.yaml');
        expect(d.line).toBeGreaterThanOrEqual(1);
      }
    }
  });
});
