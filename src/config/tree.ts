/**
 * Reading a configuration tree from disk: which files, in which order, and their text.
 * The only file-system code of the loader; parsing is in parse.ts.
 */
import { readdirSync, readFileSync, realpathSync, statSync, type Dirent, type Stats } from 'node:fs';
import path from 'node:path';
import { isUtf8 } from 'node:buffer';
import { error, warning, type PendingDiagnostic } from '../diagnostics.js';
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

/** The files of a configuration tree, and what could not be listed (never dropped in silence). */
export interface ScannedTree {
  readonly files: readonly ConfigFile[];
  readonly diagnostics: readonly PendingDiagnostic[];
}

const inside = (dir: string, p: string) => {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
};

const byName = (a: Dirent, b: Dirent) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * Every `*.yaml` / `*.yml` under root (or root itself if it is a file), in a deterministic
 * order, with a diagnostic for everything that could hold configuration but is not read:
 * a directory that cannot be listed, a symbolic link that is broken, loops, or leads out of
 * the tree, a `.yaml` name that is a pipe or a device. Symbolic links that stay inside the
 * tree are followed; a file or directory reached twice (through a link) is read once.
 * Throws only when root itself cannot be read.
 */
export function scanConfigTree(root: string, cwd = process.cwd()): ScannedTree {
  const absRoot = path.resolve(cwd, root);
  const st = statSync(absRoot);
  if (st.isFile()) return { files: [{ file: displayPath(absRoot, cwd), absolute: absRoot }], diagnostics: [] };
  const realRoot = realpathSync(absRoot);
  const files: ConfigFile[] = [];
  const diagnostics: PendingDiagnostic[] = [];
  /** Real path → the path it was first read under. */
  const seenFiles = new Map<string, string>();
  const seenDirs = new Map<string, string>([[realRoot, absRoot]]);
  const report = (code: string, message: string, abs: string, severity: 'error' | 'warning' = 'error') =>
    diagnostics.push((severity === 'error' ? error : warning)(code, message, { file: displayPath(abs, cwd), doc: 0, path: [] }));
  const addFile = (abs: string, real: string) => {
    const first = seenFiles.get(real);
    if (first !== undefined) {
      report('file-duplicate-path', `this is the same file as ${displayPath(first, cwd)} (through a symbolic link): read once, as ${displayPath(first, cwd)}`, abs, 'warning');
      return;
    }
    seenFiles.set(real, abs);
    files.push({ file: displayPath(abs, cwd), absolute: abs });
  };
  /** `ancestors`: real paths of the directories from the root down to `dir`, for loop detection. */
  const walk = (dir: string, realDir: string, ancestors: readonly string[]) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true }).sort(byName);
    } catch (e) {
      report('dir-unreadable', `cannot list this directory (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): its files would be missing from the configuration, and a plan would delete what they declare; fix its permissions`, dir);
      return;
    }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const abs = path.join(dir, e.name);
      const realGuess = path.join(realDir, e.name);
      if (e.isDirectory()) {
        if (SKIPPED_DIRS.has(e.name)) continue;
        seenDirs.set(realGuess, abs);
        walk(abs, realGuess, [...ancestors, realGuess]);
      } else if (e.isFile()) {
        if (isConfigFile(e.name)) addFile(abs, realGuess);
      } else if (e.isSymbolicLink()) {
        links.push({ abs, name: e.name, ancestors });
      } else if (isConfigFile(e.name)) {
        report('file-not-regular', 'this is not a regular file (a pipe, socket or device): it is not read; replace it with a file or rename it so it does not end in .yaml', abs);
      }
    }
  };
  const followLink = (abs: string, name: string, ancestors: readonly string[]) => {
    let real: string;
    let target: Stats;
    try {
      real = realpathSync(abs);
      target = statSync(real);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') {
        report('file-symlink-loop', 'this symbolic link loops (it leads back to itself): fix or remove it', abs);
      } else if (isConfigFile(name)) {
        report('file-unreadable', `this symbolic link is broken (${code ?? (err as Error).message}): its resources would be missing from the plan; fix the link or remove it`, abs);
      } else {
        report('file-unreadable', `this symbolic link is broken (${code ?? (err as Error).message}); if it held configuration files they are not read: fix the link or remove it`, abs, 'warning');
      }
      return;
    }
    const isDir = target.isDirectory();
    if (!isDir && !isConfigFile(name)) return;
    if (!inside(realRoot, real)) {
      // A file is surely configuration: an error. A directory may be anything (secrets kept
      // elsewhere, say): it is not walked, and a warning says so.
      report(
        'file-symlink-outside',
        isDir
          ? `this symbolic link leads outside the configuration directory (to ${displayPath(real, cwd)}): it is not followed, so YAML files under it are not read; if it holds configuration, move it inside`
          : `this symbolic link leads outside the configuration directory (to ${displayPath(real, cwd)}): it is not read; move the file inside the configuration, or copy it`,
        abs,
        isDir ? 'warning' : 'error',
      );
      return;
    }
    if (isDir) {
      if (ancestors.includes(real)) {
        report('file-symlink-loop', `this symbolic link leads back to ${displayPath(seenDirs.get(real) ?? real, cwd)}, which contains it: it is not followed; remove it`, abs);
        return;
      }
      const first = seenDirs.get(real);
      if (first !== undefined) {
        report('file-duplicate-path', `this is the same directory as ${displayPath(first, cwd)} (through a symbolic link): read once, as ${displayPath(first, cwd)}`, abs, 'warning');
        return;
      }
      seenDirs.set(real, abs);
      walk(abs, real, [...ancestors, real]);
    } else if (target.isFile()) {
      addFile(abs, real);
    } else {
      report('file-not-regular', 'this symbolic link leads to something that is not a regular file (a pipe, socket or device): it is not read', abs);
    }
  };
  // Links are followed after the folders themselves are walked, so that a file or folder
  // reached both ways is read where it really is, whatever the names' order.
  const links: { abs: string; name: string; ancestors: readonly string[] }[] = [];
  walk(absRoot, realRoot, [realRoot]);
  for (let i = 0; i < links.length; i++) followLink(links[i]!.abs, links[i]!.name, links[i]!.ancestors);
  return { files, diagnostics };
}

/** The files {@link scanConfigTree} finds (its diagnostics dropped: for tests and tools). */
export function listConfigFiles(root: string, cwd = process.cwd()): ConfigFile[] {
  return [...scanConfigTree(root, cwd).files];
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
  return checkConfigBytes(buf, f.file, maxBytes);
}

/** The encoding a byte-order mark (or the NUL pattern of ASCII text) gives away, if not UTF-8. */
function wideEncoding(buf: Buffer): string | undefined {
  if (buf.length >= 4 && buf[0] === 0xff && buf[1] === 0xfe && buf[2] === 0 && buf[3] === 0) return 'UTF-32 LE';
  if (buf.length >= 4 && buf[0] === 0 && buf[1] === 0 && buf[2] === 0xfe && buf[3] === 0xff) return 'UTF-32 BE';
  if (buf.length >= 2 && buf[0] === 0xff && buf[1] === 0xfe) return 'UTF-16 LE';
  if (buf.length >= 2 && buf[0] === 0xfe && buf[1] === 0xff) return 'UTF-16 BE';
  // no mark: ASCII text saved as UTF-16 has a NUL in every other byte
  const n = Math.min(buf.length, 256) & ~1;
  if (n >= 4) {
    let even = 0;
    let odd = 0;
    for (let i = 0; i < n; i += 2) {
      if (buf[i] === 0) even++;
      if (buf[i + 1] === 0) odd++;
    }
    if (odd === n / 2 && even === 0) return 'UTF-16 LE';
    if (even === n / 2 && odd === 0) return 'UTF-16 BE';
  }
  return undefined;
}

/** The checks every configuration file's bytes pass, on disk or in a git commit: size, text, UTF-8. */
export function checkConfigBytes(buf: Buffer, file: string, maxBytes = MAX_FILE_BYTES): ReadResult {
  const at = { file, doc: 0, path: [] };
  if (buf.length > maxBytes) {
    return { ok: false, diagnostic: error('file-too-large', `file is ${buf.length} bytes, over the ${maxBytes}-byte limit for a configuration file; split it into several files`, at) };
  }
  const wide = wideEncoding(buf);
  if (wide) {
    return { ok: false, diagnostic: error('file-not-text', `file is ${wide} text, not UTF-8: save it as UTF-8 (in Notepad: Save as, Encoding "UTF-8"; or iconv -f ${wide.replace(' ', '')} -t UTF-8)`, at) };
  }
  if (buf.includes(0)) {
    return { ok: false, diagnostic: error('file-not-text', 'file contains NUL bytes: it is binary, not YAML text; remove it or rename it so it does not end in .yaml', at) };
  }
  if (!isUtf8(buf)) {
    const bad = firstInvalidUtf8(buf);
    const line = buf.subarray(0, bad).toString('latin1').split('\n').length;
    return {
      ok: false,
      diagnostic: error(
        'file-not-text',
        `file is not valid UTF-8 (first invalid byte 0x${buf[bad]!.toString(16).padStart(2, '0')} on line ${line}): save it as UTF-8 (it is probably Windows-1252 or Latin-1: iconv -f WINDOWS-1252 -t UTF-8)`,
        at,
      ),
    };
  }
  // A UTF-8 byte-order mark is harmless: YAML parsers skip it.
  return { ok: true, text: buf.toString('utf8') };
}

/** Offset of the first byte that starts an invalid UTF-8 sequence (RFC 3629), for the message. */
function firstInvalidUtf8(buf: Buffer): number {
  for (let i = 0; i < buf.length; ) {
    const b = buf[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    const len = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (len === 0 || i + len > buf.length) return i;
    const lo = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80;
    const hi = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
    if (buf[i + 1]! < lo || buf[i + 1]! > hi) return i;
    for (let k = 2; k < len; k++) if ((buf[i + k]! & 0xc0) !== 0x80) return i;
    i += len;
  }
  return buf.length - 1;
}

/** Read and parse every configuration file under root. Never throws for bad content. */
export function loadTree(root: string, options: { cwd?: string; maxFileBytes?: number } = {}): LoadedTree {
  const cwd = options.cwd ?? process.cwd();
  const texts = new Map<string, string>();
  const resources: SourceResource[] = [];
  const diagnostics: PendingDiagnostic[] = [];
  let files: readonly ConfigFile[];
  try {
    const scanned = scanConfigTree(root, cwd);
    files = scanned.files;
    diagnostics.push(...scanned.diagnostics);
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

