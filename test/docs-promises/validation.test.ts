/**
 * docs/validation.md, promise by promise, where test/validate, test/config and test/cli do not
 * prove it already: every rule id the page lists is one the code reports (test/docs.test.ts
 * checks the other direction), the rule ids no other test produces come out with their
 * documented severity, at most 20 syntax errors per file, and exit 0 with warnings.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { header, tempDir, validateFiles, writeTree } from '../helpers.js';
import { git, gitInit } from '../watch/helpers.js';
import { GitHeadSource } from '../../src/watch/tree-source.js';
import { sb } from './helpers.js';

const doc = readFileSync('docs/validation.md', 'utf8');

/** The rule ids of validation.md's tables, with their documented severity. */
function documentedRules(): Map<string, string> {
  const rules = new Map<string, string>();
  for (const line of doc.split('\n')) {
    const m = /^\| ((?:`[a-z0-9-]+`(?:, | \/ )?)+) \| (error|warning) \|/.exec(line);
    if (!m) continue;
    for (const code of m[1]!.matchAll(/`([a-z0-9-]+)`/g)) rules.set(code[1]!, m[2]!);
  }
  return rules;
}

function sourceText(dir: string): string {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => readFileSync(path.join(e.parentPath, e.name), 'utf8'))
    .join('\n');
}

describe('docs/validation.md — rule ids', () => {
  const rules = documentedRules();

  it('lists the rule ids with severities', () => {
    expect(rules.size).toBeGreaterThan(70);
    expect(rules.get('secret-literal')).toBe('warning');
    expect(rules.get('missing-api-version')).toBe('error');
  });

  it.each([...documentedRules().keys()])('%s is reported by the code', (code) => {
    const src = ['src/config', 'src/schema', 'src/validate', 'src/dialplan', 'src/model', 'src/watch'].map(sourceText).join('\n');
    expect(src).toContain(`'${code}'`);
  });

  /** The ids no other test produces, each from an input, with the documented severity. */
  const cases: [string, Record<string, string>][] = [
    ['document-not-mapping', { 'a.yaml': 'just a string\n' }],
    ['missing-kind', { 'a.yaml': 'apiVersion: switchboard/v1\nname: x\n' }],
    ['items-not-list', { 'a.yaml': `${header('User')}domain: acme/paris\nitems: {a: 1}\n` }],
    ['yaml-recursive-alias', { 'a.yaml': `${header('Group')}domain: acme/paris\nname: x\nmembers: &m [a, *m]\n` }],
    ['yaml-syntax', { 'a.yaml': `${header('Company')}name: "acme\n` }],
    ['yaml-warning', { 'a.yaml': `${header('Company')}name: !!nosuchtag acme\n` }],
    [
      'dialplan-test-failed',
      {
        'a.yaml': `${header('Company')}name: acme\n---\n${header('Domain')}company: acme\nname: paris\ninternalLength: 4\ncountryCode: "33"\nexternalPrefix: "0"\ninternationalPrefix: "00"\n`,
        'dp.yaml': `${header('DialPlan')}domain: acme/paris\npreset: fr\ntests:\n  - number: "+33 (0) 123456789"\n    expect: "999"\n`,
      },
    ],
  ];
  it.each(cases)('%s comes out with its documented severity, at a position', (code, files) => {
    const r = validateFiles(files);
    const hit = r.diagnostics.find((d) => d.code === code);
    expect(hit, JSON.stringify(r.diagnostics)).toBeDefined();
    expect(hit!.severity).toBe(rules.get(code));
    expect(hit!.line).toBeGreaterThanOrEqual(1);
    expect(hit!.message.length).toBeGreaterThan(10);
  });

  it('file-submodule: watch --committed-only reports a submodule (a warning) and reads nothing of it', () => {
    const root = tempDir();
    writeTree(root, { 'company.yaml': `${header('Company')}name: acme\n` });
    gitInit(root);
    git(root, 'add', '-A');
    git(root, 'commit', '-qm', 'config');
    git(root, 'update-index', '--add', '--cacheinfo', `160000,${git(root, 'rev-parse', 'HEAD')},vendor`);
    git(root, 'commit', '-qm', 'a submodule');
    const snap = new GitHeadSource('.', { cwd: root }).load();
    expect(snap.tree.diagnostics.map((d) => `${d.at?.file} ${d.severity} ${d.code}`)).toEqual([`vendor ${rules.get('file-submodule')} file-submodule`]);
  });
});

describe('docs/validation.md — output', () => {
  it('yaml-syntax: at most 20 reported per file, the rest counted', () => {
    const broken = Array.from({ length: 30 }, (_, i) => `k${i}: "open\n---\n`).join('');
    const r = validateFiles({ 'a.yaml': broken, 'b.yaml': `${header('Company')}name: "x\n` });
    const inA = r.diagnostics.filter((d) => d.file === 'a.yaml');
    expect(inA).toHaveLength(21);
    expect(inA.filter((d) => d.code === 'yaml-syntax' && !d.message.startsWith('…'))).toHaveLength(20);
    expect(inA.find((d) => d.message.startsWith('…'))?.message).toMatch(/^… and \d+ more syntax errors in this file$/);
    expect(r.diagnostics.filter((d) => d.file === 'b.yaml').map((d) => d.code)).toEqual(['yaml-syntax']); // counted per file
  });

  it('exit 0 when valid with warnings; the summary counts them (compiled CLI)', () => {
    const cwd = tempDir();
    writeTree(cwd, {
      'a.yaml': `${header('Company')}name: acme\n---\n${header('Domain')}company: acme\nname: paris\n---\n${header('AdminAccount')}username: root\npassword: literal-Pa55\nsuperUser: true\n`,
    });
    const r = sb(['validate', '.'], { cwd });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('[secret-literal]');
    expect(r.stderr).not.toContain('literal-Pa55');
    expect(r.stdout).toBe('valid: 1 file, 3 resources, 0 errors, 1 warning\n');
    const json = sb(['validate', '.', '--format', 'json'], { cwd });
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ valid: true, summary: { files: 1, resources: 3, errors: 0, warnings: 1 } });
  });

  it('diagnostics are sorted by file, then line, then column, across every layer', () => {
    const r = validateFiles({
      'b.yaml': `${header('Company')}name: acme\nbogus: 1\n---\n${header('Domain')}company: acme\nname: paris\ninternalLenght: 4\n`,
      'a.yaml': `${header('User')}domain: acme/paris\nusername: x\nfristName: X\npassword: hunter2\n`,
    });
    const keys = r.diagnostics.map((d): [string, number, number] => [d.file ?? '', d.line ?? 0, d.column ?? 0]);
    const sorted = [...keys].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] - y[1] || x[2] - y[2]));
    expect(keys).toEqual(sorted);
    expect(new Set(r.diagnostics.map((d) => d.file))).toEqual(new Set(['a.yaml', 'b.yaml']));
  });
});
