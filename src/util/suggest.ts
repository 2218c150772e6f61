import damerauLevenshtein from 'damerau-levenshtein';

/** Edit distance counting a swap of two adjacent letters as one edit ("alcie" → "alice"). */
export function editDistance(a: string, b: string): number {
  return damerauLevenshtein(a, b).steps;
}

/**
 * The closest candidate to `word`, for "did you mean …?" hints; undefined when nothing is
 * close enough to be a plausible typo (distance ≤ max(1, ⌊len/3⌋), case-insensitive).
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    if (Math.abs(c.length - w.length) >= bestDistance) continue;
    const d = editDistance(w, c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** ` Did you mean 'x'?` or the empty string. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const c = closest(word, candidates);
  return c === undefined ? '' : ` Did you mean '${c}'?`;
}
