/**
 * The order of ranked institutions: score descending, then fewer open applications, then the smaller id (compared
 * by UTF-16 code units, never by locale). This is a total order when ids are unique, so the result does not depend
 * on the order candidates were passed in.
 *
 * Candidates are referred to by their index in the input; scores live in a typed array by the same index. The
 * sorts are written out here rather than handed to `Array.prototype.sort` with a callback because ranking 10,000
 * candidates is dominated by comparisons, and an inlined comparison is several times cheaper than a callback.
 */
import { ValidationError } from '../errors.js';

/** What the comparison reads of a candidate. */
interface Orderable {
  id: string;
  openApplications: number;
}

/** True when candidate `a` ranks before candidate `b`. Throws if two different candidates share an id and tie. */
export function ranksBefore(candidates: readonly Orderable[], scores: Float64Array, a: number, b: number): boolean {
  const sa = scores[a]!;
  const sb = scores[b]!;
  if (sa !== sb) return sa > sb;
  const ca = candidates[a]!;
  const cb = candidates[b]!;
  if (ca.openApplications !== cb.openApplications) return ca.openApplications < cb.openApplications;
  if (ca.id === cb.id && a !== b) throw tiedDuplicate(ca.id, a, b);
  return ca.id < cb.id;
}

function tiedDuplicate(id: string, a: number, b: number): ValidationError {
  const [first, second] = a < b ? [a, b] : [b, a];
  return new ValidationError(
    `candidates[${first}] and candidates[${second}] share the id ${JSON.stringify(id)} and tie, so their order is undefined; pass each institution once.`,
    { details: { field: `candidates[${second}].id` } },
  );
}

/**
 * The best `k` of `indexes[0..count)`, best first, kept in a sorted list of length `k`: one comparison per
 * candidate that cannot enter, so this is linear for the small `k` of a dispatch round.
 */
export function selectBest(
  candidates: readonly Orderable[],
  scores: Float64Array,
  indexes: Int32Array,
  count: number,
  k: number,
): Int32Array {
  const top = new Int32Array(k);
  let size = 0;
  for (let e = 0; e < count; e++) {
    const i = indexes[e]!;
    if (size === k && !ranksBefore(candidates, scores, i, top[k - 1]!)) continue;
    let at = size === k ? k - 1 : size++;
    while (at > 0 && ranksBefore(candidates, scores, i, top[at - 1]!)) {
      top[at] = top[at - 1]!;
      at--;
    }
    top[at] = i;
  }
  return top;
}

const POSITION_SPAN = 2 ** 20;
const BUCKETS = 2 ** 32;

/**
 * Sort `indexes[0..count)` best first, in place. Scores are first cut into 2^32 buckets and sorted by the engine's
 * numeric sort (no callback) on a key of bucket and position; the bucket is monotone in the score, so only the
 * candidates within one bucket still need the exact comparison, which `sortRange` gives them. Past 2^20 candidates
 * the key would lose precision, so the exact sort does everything.
 */
export function sortAll(
  candidates: readonly Orderable[],
  scores: Float64Array,
  indexes: Int32Array,
  count: number,
): Int32Array {
  if (count > POSITION_SPAN) return sortRange(candidates, scores, indexes, 0, count - 1);
  const keys = new Float64Array(count);
  for (let p = 0; p < count; p++) {
    const score = Math.min(1, Math.max(0, scores[indexes[p]!]!));
    keys[p] = Math.floor((1 - score) * BUCKETS) * POSITION_SPAN + p;
  }
  keys.sort();
  const unsorted = indexes.slice(0, count);
  let runStart = 0;
  let runBucket = -1;
  for (let p = 0; p < count; p++) {
    const key = keys[p]!;
    const bucket = Math.floor(key / POSITION_SPAN);
    indexes[p] = unsorted[key - bucket * POSITION_SPAN]!;
    if (bucket !== runBucket) {
      if (p - runStart > 1) sortRange(candidates, scores, indexes, runStart, p - 1);
      runStart = p;
      runBucket = bucket;
    }
  }
  if (count - runStart > 1) sortRange(candidates, scores, indexes, runStart, count - 1);
  return indexes.subarray(0, count);
}

/** Below this many elements a range is finished by insertion sort. */
const INSERTION_MAX = 16;

/** Sort `indexes[first..last]` best first, in place (quicksort, median-of-three pivot, insertion sort for short ranges). */
function sortRange(
  candidates: readonly Orderable[],
  scores: Float64Array,
  indexes: Int32Array,
  first: number,
  last: number,
): Int32Array {
  const stack = new Int32Array(128);
  let top = 0;
  let lo = first;
  let hi = last;
  for (;;) {
    if (hi - lo < INSERTION_MAX) {
      insertionSort(candidates, scores, indexes, lo, hi);
      if (top === 0) break;
      hi = stack[--top]!;
      lo = stack[--top]!;
      continue;
    }
    const split = partition(candidates, scores, indexes, lo, hi);
    // Recurse into the smaller side later and loop on the larger, so the stack stays logarithmic.
    if (split - lo < hi - split) {
      stack[top++] = split + 1;
      stack[top++] = hi;
      hi = split;
    } else {
      stack[top++] = lo;
      stack[top++] = split;
      lo = split + 1;
    }
  }
  return indexes.subarray(first, last + 1);
}

function insertionSort(
  candidates: readonly Orderable[],
  scores: Float64Array,
  indexes: Int32Array,
  lo: number,
  hi: number,
): void {
  for (let i = lo + 1; i <= hi; i++) {
    const value = indexes[i]!;
    let j = i - 1;
    while (j >= lo && ranksBefore(candidates, scores, value, indexes[j]!)) {
      indexes[j + 1] = indexes[j]!;
      j--;
    }
    indexes[j + 1] = value;
  }
}

/** Hoare partition around the median of first, middle and last; returns `p` with [lo..p] ≤ pivot ≤ [p+1..hi]. */
function partition(
  candidates: readonly Orderable[],
  scores: Float64Array,
  indexes: Int32Array,
  lo: number,
  hi: number,
): number {
  const mid = lo + ((hi - lo) >> 1);
  if (ranksBefore(candidates, scores, indexes[mid]!, indexes[lo]!)) swap(indexes, mid, lo);
  if (ranksBefore(candidates, scores, indexes[hi]!, indexes[lo]!)) swap(indexes, hi, lo);
  if (ranksBefore(candidates, scores, indexes[hi]!, indexes[mid]!)) swap(indexes, hi, mid);
  const pivot = indexes[mid]!;
  let i = lo - 1;
  let j = hi + 1;
  for (;;) {
    do i++;
    while (ranksBefore(candidates, scores, indexes[i]!, pivot));
    do j--;
    while (ranksBefore(candidates, scores, pivot, indexes[j]!));
    if (i >= j) return j;
    swap(indexes, i, j);
  }
}

function swap(indexes: Int32Array, a: number, b: number): void {
  const t = indexes[a]!;
  indexes[a] = indexes[b]!;
  indexes[b] = t;
}
