/**
 * Parsed configuration files kept between reconcile cycles, keyed by path and content hash,
 * so a cycle parses only the files whose content changed. `parseFile` is pure, so a cached
 * result stands for any later read of the same text.
 *
 * Invariant: nothing downstream mutates a parsed resource (validation copies a body before
 * resolving its secrets; canonicalization and the differ build new values), so one cached
 * result can feed any number of cycles.
 */
import { createHash } from 'node:crypto';
import { parseFile, type ParsedFile } from '../config/parse.js';

export const contentHash = (text: string) => createHash('sha1').update(text).digest('hex');

interface Entry {
  readonly hash: string;
  readonly parsed: ParsedFile;
}

export class ParseCache {
  readonly #entries = new Map<string, Entry>();
  /** Files parsed (cache misses) since the last {@link takeParsed}. */
  #parsed = 0;

  /** The parsed form of `text` as the content of `file`, parsing only when its hash is new for that file. */
  get(file: string, text: string, hash = contentHash(text)): ParsedFile {
    const e = this.#entries.get(file);
    if (e && e.hash === hash) return e.parsed;
    const parsed = parseFile(file, text);
    this.#parsed++;
    this.#entries.set(file, { hash, parsed });
    return parsed;
  }

  hashOf(file: string): string | undefined {
    return this.#entries.get(file)?.hash;
  }

  /** Forget files that are gone. */
  retain(files: ReadonlySet<string>): void {
    for (const f of this.#entries.keys()) if (!files.has(f)) this.#entries.delete(f);
  }

  takeParsed(): number {
    const n = this.#parsed;
    this.#parsed = 0;
    return n;
  }
}
