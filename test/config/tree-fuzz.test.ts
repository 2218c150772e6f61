// Seeded random trees of files, folders and symbolic links (to files and folders inside, to
// ancestors, to themselves, outside, to nothing): listing always ends, never throws, reads
// every real YAML file of the tree exactly once, and either reads or reports every link
// named .yaml — no file is ever left out in silence.
import { describe, expect, it } from 'vitest';
import { lstatSync, mkdirSync, readdirSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { scanConfigTree } from '../../src/config/tree.js';
import { tempDir } from '../helpers.js';
import { prng } from '../prng.js';

function randomTree(seed: number) {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const base = tempDir('switchboard-fuzz-');
  const root = path.join(base, 'config');
  mkdirSync(root);
  mkdirSync(path.join(base, 'outside'));
  writeFileSync(path.join(base, 'outside/x.yaml'), 'a: 1\n');
  const dirs = [root];
  const entries: string[] = [];
  const n = 5 + Math.floor(r() * 25);
  for (let i = 0; i < n; i++) {
    const dir = pick(dirs);
    const what = r();
    const name = `${pick(['a', 'b', 'c', 'users', 'links'])}${i}${pick(['.yaml', '.yml', '.YAML', '.txt', ''])}`;
    const p = path.join(dir, name);
    if (what < 0.35) {
      writeFileSync(p, `n: ${i}\n`);
      entries.push(p);
    } else if (what < 0.55) {
      mkdirSync(p);
      dirs.push(p);
      entries.push(p);
    } else {
      const target = pick([
        () => path.relative(dir, pick(entries.length ? entries : [root])),
        () => path.relative(dir, pick(dirs)),
        () => '..',
        () => '.',
        () => name,
        () => path.join(base, 'outside'),
        () => path.join(base, 'outside/x.yaml'),
        () => 'missing.yaml',
      ])();
      symlinkSync(target === '' ? '.' : target, p);
      entries.push(p);
    }
  }
  return { root };
}

/** Real YAML files under root reached without links, outside dot and node_modules folders. */
function realYaml(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (name.startsWith('.') || name === 'node_modules') return [];
    const p = path.join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) return realYaml(p);
    return st.isFile() && /\.ya?ml$/i.test(name) ? [p] : [];
  });
}

function yamlLinks(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) return yamlLinks(p);
    return st.isSymbolicLink() && /\.ya?ml$/i.test(name) ? [p] : [];
  });
}

describe('random trees with symbolic links', () => {
  it.each(Array.from({ length: 150 }, (_, i) => i + 1))('seed %i', (seed) => {
    const { root } = randomTree(seed);
    const scanned = scanConfigTree('.', root);
    const read = scanned.files.map((f) => realpathSync(f.absolute));
    expect(new Set(read).size).toBe(read.length); // each file once
    for (const f of realYaml(root)) expect(read).toContain(realpathSync(f));
    const reported = new Set(scanned.diagnostics.map((d) => d.at!.file));
    for (const link of yamlLinks(root)) {
      const shown = path.relative(root, link).split(path.sep).join('/');
      const viaRead = scanned.files.some((f) => f.absolute === link);
      const onItsPath = [...reported].some((d) => shown === d || shown.startsWith(`${d}/`));
      // a link inside a folder reached only through a reported or not-followed link is covered by that report
      const underReportedOrDuplicate = scanned.diagnostics.some((d) => shown.startsWith(`${d.at!.file}/`));
      let readAsTarget = false;
      try {
        const real = realpathSync(link);
        // read as its target, or a folder of the tree (walked where it really is)
        readAsTarget = read.includes(real) || (statSync(real).isDirectory() && !path.relative(realpathSync(root), real).startsWith('..'));
      } catch {
        readAsTarget = false;
      }
      expect({ link: shown, ok: viaRead || onItsPath || underReportedOrDuplicate || readAsTarget }).toEqual({ link: shown, ok: true });
    }
  });
});
