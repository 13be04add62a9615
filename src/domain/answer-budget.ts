// Answers bounded in bytes (docs/limits.md, "Answers"): a claim or a listing page hands out the longest
// prefix of its tasks that fits the budget, and always at least one task, however large (a task bigger
// than the budget is handed out alone rather than never: it was accepted, so it must be deliverable).

/**
 * The longest prefix of `items` (at most `amount`) whose sizes add up to no more than `maxBytes`; at least
 * the first item. A prefix, not a best fit: the answer keeps the order it was asked in (claim order, or
 * the listing's order, so that a cursor after the last item resumes exactly there).
 */
export function withinBudget<T>(items: readonly T[], amount: number, maxBytes: number, sizeOf: (item: T) => number): T[] {
  let bytes = 0;
  let count = 0;
  for (const item of items) {
    if (count >= amount) break;
    bytes += sizeOf(item);
    if (count > 0 && bytes > maxBytes) break;
    count++;
  }
  return count === items.length ? [...items] : items.slice(0, count);
}
