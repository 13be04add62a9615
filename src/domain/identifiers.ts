/**
 * Rules shared by the caller-chosen names: task ids, recurring-task ids, queue names and kinds.
 *
 * Each must be well-formed Unicode: a lone UTF-16 surrogate (`"s\ud800"`) cannot be written as UTF-8, so
 * a store would keep U+FFFD in its place, and no URL can address it.
 */

/** Longest task id and recurring-task id, in characters (code points), as create accepts them. */
export const MAX_ID_LENGTH = 512;

/**
 * Longest path parameter the router takes, in UTF-16 units after percent-decoding: an id of
 * MAX_ID_LENGTH astral characters is twice that; a queue name (200 bytes) is shorter. Every route must
 * accept the longest id and queue name that create accepts.
 */
export const MAX_PATH_PARAM_LENGTH = 2 * MAX_ID_LENGTH;

// With the u flag a lone surrogate is its own code point of category Cs; a pair is one astral code point.
const LONE_SURROGATE = /\p{Cs}/u;

/** Whether `text` holds a UTF-16 surrogate without its partner. */
export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}
