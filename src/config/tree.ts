/**
 * Reading a configuration tree from disk: which files, in which order, and their text.
 * The only file-system code of the loader; parsing is in parse.ts.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { isUtf8 } from 'node:buffer';
import { error, type PendingDiagnostic } from '../diagnostics.js';
import { parseFile, type SourceResource } from './parse.js';

/** Files larger than this are refused without being read (a config file is text, not data). */
export const MAX_FILE_BYTES = 32 * 1024 * 1024;

/** Folders never descended into. Dotfiles and dot-folders (.git, .switchboard) are skipped too. */
const SKIPPED_DIRS = new Set(['node_modules']);

export interface ConfigFile {
  /** Path shown to the user: relative to the working directory when inside it. */
  readonly file: string;
  readonly absolute: string;
}

export interface LoadedTree {
  readonly root: string;
  /** File → text, for every file read; positions are computed from it. */
  readonly texts: ReadonlyMap<string, string>;
  readonly resources: readonly SourceResource[];
  readonly diagnostics: readonly PendingDiagnostic[];
}

export function displayPath(absolute: string, cwd = process.cwd()): string {
  const rel = path.relative(cwd, absolute);
  return rel === '' ? '.' : rel.startsWith('..') || path.isAbsolute(rel) ? absolute : rel.split(path.sep).join('/');
}

const isConfigFile = (name: string) => /\.ya?ml$/i.test(name) && !name.startsWith('.');

/** Every `*.yaml` / `*.yml` under root (or root itself if it is a file), in a deterministic order. */
export function listConfigFiles(root: string, cwd = process.cwd()): ConfigFile[] {
  const absRoot = path.resolve(cwd, root);
  const st = statSync(absRoot);
  if (st.isFile()) return [{ file: displayPath(absRoot, cwd), absolute: absRoot }];
  const out: ConfigFile[] = [];
  const walk = (dir: string) => {
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const abs = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (!SKIPPED_DIRS.has(e.name)) walk(abs);
      } else if (e.isFile() && isConfigFile(e.name)) {
        out.push({ file: displayPath(abs, cwd), absolute: abs });
      }
    }
  };
  walk(absRoot);
  return out;
}

export type ReadResult = { ok: true; text: string } | { ok: false; diagnostic: PendingDiagnostic };

/** Read one file as UTF-8 text, refusing oversized and binary files with a diagnostic. */
export function readConfigFile(f: ConfigFile, maxBytes = MAX_FILE_BYTES): ReadResult {
  const at = { file: f.file, doc: 0, path: [] };
  let size: number;
  try {
    size = statSync(f.absolute).size;
  } catch (e) {
    return { ok: false, diagnostic: error('file-unreadable', `cannot read file: ${(e as Error).message}`, at) };
  }
  if (size > maxBytes) {
    return {
      ok: false,
      diagnostic: error(
        'file-too-large',
        `file is ${size} bytes, over the ${maxBytes}-byte limit for a configuration file; split it into several files`,
        at,
      ),
    };
  }
  let buf: Buffer;
  try {
    buf = readFileSync(f.absolute);
  } catch (e) {
    return { ok: false, diagnostic: error('file-unreadable', `cannot read file: ${(e as Error).message}`, at) };
  }
  if (buf.includes(0)) {
    return { ok: false, diagnostic: error('file-not-text', 'file contains NUL bytes: it is binary, not YAML text; remove it or rename it so it does not end in .yaml', at) };
  }
  if (!isUtf8(buf)) return { ok: false, diagnostic: error('file-not-text', 'file is not valid UTF-8 text; save it as UTF-8', at) };
  return { ok: true, text: buf.toString('utf8') };
}

/** Read and parse every configuration file under root. Never throws for bad content. */
export function loadTree(root: string, options: { cwd?: string; maxFileBytes?: number } = {}): LoadedTree {
  const cwd = options.cwd ?? process.cwd();
  const texts = new Map<string, string>();
  const resources: SourceResource[] = [];
  const diagnostics: PendingDiagnostic[] = [];
  let files: ConfigFile[];
  try {
    files = listConfigFiles(root, cwd);
  } catch (e) {
    diagnostics.push(error('config-not-found', `cannot read configuration at '${root}': ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`));
    return { root, texts, resources, diagnostics };
  }
  for (const f of files) {
    const r = readConfigFile(f, options.maxFileBytes);
    if (!r.ok) {
      diagnostics.push(r.diagnostic);
      continue;
    }
    texts.set(f.file, r.text);
    const parsed = parseFile(f.file, r.text);
    resources.push(...parsed.resources);
    diagnostics.push(...parsed.diagnostics);
  }
  return { root, texts, resources, diagnostics };
}

