// "Did you mean ...?": the one suggestion function for every name mvrc looks up — commands,
// options and their values, syscalls, groups, labels, variables, std modules, imported files,
// diagnostic codes — so that every hint follows the same rule.

/** Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of two
 *  neighbouring characters each cost 1 (so 'opne' is 1 away from 'open'). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[(i - 1) * cols + j]! + 1, d[i * cols + j - 1]! + 1, d[(i - 1) * cols + j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, d[(i - 2) * cols + j - 2]! + 1);
      }
      d[i * cols + j] = v;
    }
  }
  return d[rows * cols - 1]!;
}

/**
 * The candidate closest to `name` for a "did you mean" hint, or undefined when `name` is itself a
 * candidate or nothing is close: at most one edit for names of up to 4 characters, two up to 7,
 * three beyond, and fewer than the longer name's length. Case is ignored ('Read' suggests 'read'). Ties go to the candidate whose length
 * is closest, then to the alphabetically first, so the answer is stable.
 */
export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  if (name === '') return undefined;
  const wanted = name.toLowerCase();
  const limit = wanted.length <= 4 ? 1 : wanted.length <= 7 ? 2 : 3;
  let best: { name: string; dist: number; lenDiff: number } | undefined;
  for (const candidate of candidates) {
    if (candidate === name) return undefined;
    // Lengths differing by more than the limit cannot be within it.
    const lenDiff = Math.abs(candidate.length - wanted.length);
    if (lenDiff > limit) continue;
    const dist = editDistance(wanted, candidate.toLowerCase());
    // A candidate that shares no character with the name ('b' for 'a') is no hint.
    if (dist > limit || dist >= Math.max(candidate.length, wanted.length)) continue;
    if (best === undefined || dist < best.dist || (dist === best.dist && (lenDiff < best.lenDiff || (lenDiff === best.lenDiff && candidate < best.name)))) {
      best = { name: candidate, dist, lenDiff };
    }
  }
  return best?.name;
}

/** "did you mean 'x'?" for `name` among `candidates`, or undefined. */
export function didYouMean(name: string, candidates: Iterable<string>, quote = "'"): string | undefined {
  const s = closestName(name, candidates);
  return s === undefined ? undefined : `did you mean ${quote}${s}${quote}?`;
}
