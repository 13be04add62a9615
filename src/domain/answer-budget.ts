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

/** Bytes of a task in an answer besides its JSON objects: field names, times, ids (an upper estimate). */
const TASK_ANSWER_OVERHEAD_BYTES = 512;

/**
 * Estimated size of a task in a claim's answer, from its names and the JSON lengths of its args and
 * context (a claim clears the report and result): what a store measures `maxBytes` in.
 */
export function claimAnswerBytes(task: { queue: string; id: string; kind: string }, argsBytes: number, contextBytes: number): number {
  return TASK_ANSWER_OVERHEAD_BYTES + task.queue.length + task.id.length + task.kind.length + argsBytes + contextBytes;
}
