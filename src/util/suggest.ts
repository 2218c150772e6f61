/**
 * "Did you mean …?" hints: the closest known name to a misspelt one.
 *
 * Bounded by construction, because both sides come from user input: a word longer than
 * {@link MAX_SUGGESTED_LENGTH} gets no hint; the edit distance is computed only within the
 * band of distances that could still be a typo, and stops as soon as it cannot; and a
 * {@link SuggestionBudget} shared by one validation run caps the total work, so 2,000
 * misspelt members of a group among 60,000 users cost milliseconds, not minutes (later
 * problems then simply get no hint).
 */

/** Words (and candidates) longer than this get no suggestion: typos are hinted on names, not data. */
export const MAX_SUGGESTED_LENGTH = 64;

/** Work allowed for one run of hints, in distance-matrix cells (a few tens of milliseconds). */
export const DEFAULT_SUGGESTION_CELLS = 20_000_000;

/** The work left for hints in one run (validation, or one change set's checks). */
export class SuggestionBudget {
  constructor(public cells: number = DEFAULT_SUGGESTION_CELLS) {}
}

const LOOSE = new SuggestionBudget(Number.POSITIVE_INFINITY);

/**
 * Optimal-string-alignment distance (Damerau–Levenshtein where a swap of two adjacent letters
 * is one edit: "alcie" → "alice"), or `max + 1` as soon as it is certainly over `max`.
 * Computes only the cells within `max` of the diagonal.
 */
export function boundedEditDistance(a: string, b: string, max: number, budget: SuggestionBudget = LOOSE): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  const n = a.length;
  const m = b.length;
  const big = max + 1;
  let prev2 = new Array<number>(m + 1).fill(big);
  let prev = new Array<number>(m + 1);
  let cur = new Array<number>(m + 1);
  for (let j = 0; j <= m; j++) prev[j] = j <= max ? j : big;
  for (let i = 1; i <= n; i++) {
    const lo = Math.max(1, i - max);
    const hi = Math.min(m, i + max);
    cur.fill(big);
    cur[0] = i <= max ? i : big;
    let rowMin = cur[0]!;
    budget.cells -= hi - lo + 1;
    for (let j = lo; j <= hi; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a.charCodeAt(i - 1) === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === b.charCodeAt(j - 1)) d = Math.min(d, prev2[j - 2]! + 1);
      cur[j] = d > big ? big : d;
      if (cur[j]! < rowMin) rowMin = cur[j]!;
    }
    if (rowMin > max) return big;
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  return Math.min(prev[m]!, big);
}

/**
 * The closest candidate to `word`, for "did you mean …?" hints; undefined when nothing is
 * close enough to be a plausible typo (distance ≤ max(1, ⌊len/3⌋), case-insensitive), or when
 * the budget is spent.
 */
export function closest(word: string, candidates: Iterable<string>, budget: SuggestionBudget = new SuggestionBudget()): string | undefined {
  if (word.length > MAX_SUGGESTED_LENGTH) return undefined;
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    if (budget.cells <= 0) return best;
    if (Math.abs(c.length - w.length) >= bestDistance || c.length > MAX_SUGGESTED_LENGTH) continue;
    const d = boundedEditDistance(w, c.toLowerCase(), bestDistance - 1, budget);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** ` Did you mean 'x'?` or the empty string. */
export function didYouMean(word: string, candidates: Iterable<string>, budget?: SuggestionBudget): string {
  const c = closest(word, candidates, budget);
  return c === undefined ? '' : ` Did you mean '${c}'?`;
}
