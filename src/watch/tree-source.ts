/**
 * Where a watch cycle reads the configuration from: the working tree (the files as they are
 * on disk now) or git HEAD (--committed-only). Both re-derive the whole tree on every load —
 * events only say *when* to look, never *what* the tree is, so a missed or coalesced event
 * cannot leave the watcher with a wrong picture — and both parse only files whose content
 * changed (ParseCache). The only file-system and git code of the watcher.
 */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { error, warning, type PendingDiagnostic } from '../diagnostics.js';
import { checkConfigBytes, displayPath, MAX_FILE_BYTES, readConfigFile, scanConfigTree, type ConfigFile, type LoadedTree } from '../config/tree.js';
import type { SourceResource } from '../config/parse.js';
import { contentHash, ParseCache } from './parse-cache.js';

/** The configuration as one cycle sees it. */
export interface TreeSnapshot {
  readonly tree: LoadedTree;
  /** Files whose content changed since the previous load (added, edited, removed, now unreadable); every file on the first load. */
  readonly changed: readonly string[];
  /** Files parsed in this load (the rest came from the cache). */
  readonly parsed: number;
  /** The commit the tree comes from, and whether it differs from it. */
  readonly git?: { readonly commit: string; readonly dirty: boolean };
}

export interface TreeSource {
  /** The configuration as it is now. `hints`: absolute paths that events named (read again even if they look unchanged). */
  load(hints?: ReadonlySet<string>): TreeSnapshot;
}

type GitInfo = () => { commit: string; dirty: boolean } | undefined;

/** A file's identity and state as `stat` sees it; a change means "read it again". */
function signature(file: string): string | undefined {
  try {
    const st = statSync(file, { bigint: true });
    return `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return undefined;
  }
}

interface FileState {
  readonly file: string;
  readonly sig: string | undefined;
  /** Content hash, or the diagnostic when the file could not be read as text. */
  readonly hash: string;
  readonly text?: string;
  readonly diagnostic?: PendingDiagnostic;
}

/** Reads at most this many times a file that keeps changing while it is read. */
const READ_ATTEMPTS = 5;

/**
 * The working tree under `root`. A file is read again when an event named it or its stat
 * signature (inode, size, mtime, ctime) changed, and read until two stats around the read
 * agree — a file being written while it is read is read again — then parsed again only when
 * its content hash changed.
 */
export class WorkingTreeSource implements TreeSource {
  readonly #cache = new ParseCache();
  readonly #files = new Map<string, FileState>();

  constructor(
    readonly root: string,
    private readonly options: { readonly cwd: string; readonly git?: GitInfo; readonly maxFileBytes?: number },
  ) {}

  load(hints?: ReadonlySet<string>): TreeSnapshot {
    const { cwd } = this.options;
    let files: readonly ConfigFile[];
    let listing: readonly PendingDiagnostic[];
    try {
      ({ files, diagnostics: listing } = scanConfigTree(this.root, cwd));
    } catch (e) {
      const changed = [...this.#files.values()].map((f) => f.file);
      this.#files.clear();
      this.#cache.retain(new Set());
      const message = `cannot read configuration at '${this.root}': ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`;
      return { tree: { root: this.root, texts: new Map(), resources: [], diagnostics: [error('config-not-found', message)] }, changed, parsed: 0 };
    }
    const texts = new Map<string, string>();
    const resources: SourceResource[] = [];
    const diagnostics: PendingDiagnostic[] = [...listing];
    const changed: string[] = [];
    const present = new Set<string>();
    for (const f of files) {
      present.add(f.absolute);
      const prev = this.#files.get(f.absolute);
      let state = prev;
      if (!prev || hints?.has(f.absolute) || signature(f.absolute) !== prev.sig) state = this.#read(f);
      this.#files.set(f.absolute, state!);
      if (!prev || prev.hash !== state!.hash) changed.push(f.file);
      if (state!.diagnostic) {
        diagnostics.push(state!.diagnostic);
        continue;
      }
      texts.set(f.file, state!.text!);
      const parsed = this.#cache.get(f.file, state!.text!, state!.hash);
      for (const r of parsed.resources) resources.push(r);
      for (const d of parsed.diagnostics) diagnostics.push(d);
    }
    for (const [abs, s] of this.#files) {
      if (present.has(abs)) continue;
      this.#files.delete(abs);
      changed.push(s.file);
    }
    this.#cache.retain(new Set(texts.keys()));
    const git = this.options.git?.();
    return { tree: { root: this.root, texts, resources, diagnostics }, changed: changed.sort(), parsed: this.#cache.takeParsed(), ...(git ? { git } : {}) };
  }

  #read(f: ConfigFile): FileState {
    let sig = signature(f.absolute);
    for (let attempt = 1; ; attempt++) {
      const r = readConfigFile(f, this.options.maxFileBytes);
      const after = signature(f.absolute);
      if (after === sig || attempt >= READ_ATTEMPTS) {
        return r.ok ? { file: f.file, sig: after, hash: contentHash(r.text), text: r.text } : { file: f.file, sig: after, hash: `!${r.diagnostic.code}`, diagnostic: r.diagnostic };
      }
      sig = after; // written while we read it: read it again
    }
  }
}

/**
 * The configuration as committed at git HEAD (--committed-only): the working tree's edits
 * are ignored. Files are listed with `git ls-tree` and read with `git cat-file --batch`; the
 * blob id is the content hash, so only blobs not seen before are read and parsed. Paths are
 * reported as the working-tree paths they are checked out to, so diagnostics look the same.
 */
export class GitHeadSource implements TreeSource {
  readonly #cache = new ParseCache();
  readonly #texts = new Map<string, { sha: string; text?: string; diagnostic?: PendingDiagnostic }>();
  readonly #toplevel: string;
  /** The configuration's path inside the repository ('' for its top), POSIX separators. */
  readonly #prefix: string;
  readonly #isFile: boolean;

  constructor(
    readonly root: string,
    private readonly options: { readonly cwd: string; readonly maxFileBytes?: number },
  ) {
    const abs = path.resolve(options.cwd, root);
    let dir = abs;
    let isFile = false;
    try {
      isFile = statSync(abs).isFile();
      if (isFile) dir = path.dirname(abs);
    } catch {
      dir = path.dirname(abs); // not in the working tree (may still be committed)
    }
    this.#toplevel = GitHeadSource.git(dir, ['rev-parse', '--show-toplevel']).toString('utf8').trim();
    this.#prefix = path.relative(this.#toplevel, abs).split(path.sep).join('/');
    this.#isFile = isFile;
  }

  /** Run git; throws with git's message when it fails. */
  static git(cwd: string, args: readonly string[], input?: string): Buffer {
    try {
      return execFileSync('git', args, { cwd, input, maxBuffer: 1 << 30, stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (e) {
      const stderr = (e as { stderr?: Buffer }).stderr?.toString('utf8').trim();
      throw new Error(`git ${args[0]} failed${stderr ? `: ${stderr.split('\n')[0]}` : ''}`, { cause: e });
    }
  }

  /** The git directory (HEAD) and the common directory (refs) of the repository, to watch for HEAD moving. */
  gitDirs(): { gitDir: string; commonDir: string } {
    const out = GitHeadSource.git(this.#toplevel, ['rev-parse', '--absolute-git-dir', '--git-common-dir']).toString('utf8').trim().split('\n');
    return { gitDir: out[0]!, commonDir: path.resolve(this.#toplevel, out[1]!) };
  }

  load(): TreeSnapshot {
    const notFound = (message: string, commit?: string): TreeSnapshot => {
      const changed = [...this.#texts.keys()];
      this.#texts.clear();
      this.#cache.retain(new Set());
      return { tree: { root: this.root, texts: new Map(), resources: [], diagnostics: [error('config-not-found', message)] }, changed, parsed: 0, ...(commit ? { git: { commit, dirty: false } } : {}) };
    };
    let commit: string;
    try {
      commit = GitHeadSource.git(this.#toplevel, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}']).toString('utf8').trim();
    } catch {
      return notFound(`the repository of '${this.root}' has no commit yet: --committed-only applies what is committed; commit the configuration first`);
    }
    const listing = GitHeadSource.git(this.#toplevel, ['ls-tree', '-r', '-z', '--full-tree', commit, '--', this.#prefix === '' ? '.' : this.#prefix]).toString('utf8');
    const entries: { file: string; sha: string }[] = [];
    const links: { file: string; repoPath: string; sha: string; config: boolean }[] = [];
    const listed = new Set<string>();
    const listingDiagnostics: PendingDiagnostic[] = [];
    for (const line of listing.split('\0')) {
      const m = /^(\d+) (blob|commit) ([0-9a-f]+)\t(.*)$/s.exec(line);
      if (!m) continue;
      const [, mode, type, sha, repoPath] = m as unknown as [string, string, string, string, string];
      const rel = this.#prefix === '' ? repoPath : repoPath.slice(this.#prefix.length + 1);
      const file = displayPath(path.join(this.#toplevel, repoPath), this.options.cwd);
      if (type === 'commit') {
        if (!rel.split('/').some((p) => p.startsWith('.') || p === 'node_modules')) {
          listingDiagnostics.push(warning('file-submodule', 'this is a git submodule: --committed-only does not read its files; commit the configuration in this repository', { file, doc: 0, path: [] }));
        }
        continue;
      }
      if (mode === '120000') {
        const parts = rel.split('/');
        if (!parts.some((p) => p.startsWith('.') || p === 'node_modules')) links.push({ file, repoPath, sha, config: this.#isFile || isConfigPath(rel) });
        continue;
      }
      listed.add(repoPath);
      if (!this.#isFile && !isConfigPath(rel)) continue;
      entries.push({ file, sha });
    }
    // Symbolic links are committed as their target's path: a link to a committed file inside
    // the configuration is that file (read once, where it is); anything else is reported.
    if (links.length > 0) {
      const targets = this.#catFiles(links.map((l) => l.sha));
      for (const l of links) {
        const target = targets.get(l.sha)!.toString('utf8');
        const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(l.repoPath), target));
        const within = !path.posix.isAbsolute(target) && (this.#prefix === '' ? !resolved.startsWith('../') && resolved !== '..' : resolved.startsWith(`${this.#prefix}/`));
        const at = { file: l.file, doc: 0, path: [] };
        if (within && listed.has(resolved)) {
          if (l.config) listingDiagnostics.push(warning('file-duplicate-path', `this symbolic link is the same file as ${resolved}: read once, there`, at));
        } else if (within && [...listed].some((p) => p.startsWith(`${resolved}/`))) {
          // a link to a committed directory of the configuration: its files are read where they are
        } else if (l.config) {
          listingDiagnostics.push(error(within ? 'file-unreadable' : 'file-symlink-outside', `this symbolic link leads to '${target}', ${within ? 'which is not committed' : 'outside the configuration'}: --committed-only cannot read it; commit the file itself here`, at));
        } else {
          listingDiagnostics.push(warning(within ? 'file-unreadable' : 'file-symlink-outside', `this symbolic link leads to '${target}', ${within ? 'which is not committed' : 'outside the configuration'}: if it holds configuration files, --committed-only does not read them`, at));
        }
      }
    }
    entries.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
    if (entries.length === 0) return notFound(`'${this.root}' holds no configuration file in commit ${commit.slice(0, 12)} (HEAD): commit it first`, commit);
    const missing = entries.filter((e) => this.#texts.get(e.file)?.sha !== e.sha);
    const blobs = missing.length > 0 ? this.#catFiles(missing.map((e) => e.sha)) : new Map<string, Buffer>();
    const changed: string[] = missing.map((e) => e.file);
    const texts = new Map<string, string>();
    const resources: SourceResource[] = [];
    const diagnostics: PendingDiagnostic[] = [...listingDiagnostics];
    const present = new Set(entries.map((e) => e.file));
    for (const f of [...this.#texts.keys()]) {
      if (present.has(f)) continue;
      this.#texts.delete(f);
      changed.push(f);
    }
    for (const e of entries) {
      let state = this.#texts.get(e.file);
      if (!state || state.sha !== e.sha) {
        const checked = checkText(e.file, blobs.get(e.sha)!, this.options.maxFileBytes ?? MAX_FILE_BYTES);
        state = typeof checked === 'string' ? { sha: e.sha, text: checked } : { sha: e.sha, diagnostic: checked };
        this.#texts.set(e.file, state);
      }
      if (state.diagnostic) {
        diagnostics.push(state.diagnostic);
        continue;
      }
      texts.set(e.file, state.text!);
      const parsed = this.#cache.get(e.file, state.text!, e.sha);
      for (const r of parsed.resources) resources.push(r);
      for (const d of parsed.diagnostics) diagnostics.push(d);
    }
    this.#cache.retain(new Set(texts.keys()));
    return { tree: { root: this.root, texts, resources, diagnostics }, changed: changed.sort(), parsed: this.#cache.takeParsed(), git: { commit, dirty: false } };
  }

  /** Blob contents by id, with one `git cat-file --batch`. */
  #catFiles(shas: readonly string[]): Map<string, Buffer> {
    const unique = [...new Set(shas)];
    const out = GitHeadSource.git(this.#toplevel, ['cat-file', '--batch'], `${unique.join('\n')}\n`);
    const blobs = new Map<string, Buffer>();
    let at = 0;
    for (const sha of unique) {
      const nl = out.indexOf(0x0a, at);
      const header = out.subarray(at, nl).toString('utf8').split(' ');
      const size = Number(header[2]);
      if (header[0] !== sha || !Number.isInteger(size)) throw new Error(`git cat-file --batch: unexpected answer for ${sha}: ${header.join(' ')}`);
      blobs.set(sha, out.subarray(nl + 1, nl + 1 + size));
      at = nl + 1 + size + 1;
    }
    return blobs;
  }
}

/** The same rule as the working-tree listing: `*.yaml`/`*.yml`, no dotfile or dot-folder, no node_modules. */
export function isConfigPath(rel: string): boolean {
  const parts = rel.split('/');
  if (parts.some((p) => p.startsWith('.') || p === 'node_modules')) return false;
  return /\.ya?ml$/i.test(parts[parts.length - 1]!);
}

/** A blob as configuration text, or why not (the checks readConfigFile makes on disk). */
function checkText(file: string, buf: Buffer, maxBytes: number): string | PendingDiagnostic {
  const r = checkConfigBytes(buf, file, maxBytes);
  return r.ok ? r.text : r.diagnostic;
}
