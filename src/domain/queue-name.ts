/**
 * Queue-name rules of v1 (spec §2.6), which mirror Elasticsearch index-name rules so that a queue can
 * always be an index. All violations are collected, as v1 does.
 */

import { hasLoneSurrogate } from './identifiers.js';

const FORBIDDEN_CHARS = ['\\', '/', '*', '?', '"', '<', '>', '|', ' ', ',', '#', ':'];

/** Maximum length in UTF-8 bytes: the Elasticsearch index-name limit less the `.tasques_queue-` prefix. */
export const MAX_QUEUE_NAME_BYTES = 200;

/**
 * The rules as a JSON-schema pattern, for the OpenAPI document (clients and fuzzers read it): no
 * forbidden character or ASCII upper case, not starting with `_`, `-` or `+`, not `.` or `..`. Written
 * without look-arounds, which some generators cannot handle. Non-ASCII upper case and the byte limit
 * are left to queueNameViolations, which every route applies with v1's message.
 */
const NAME_CHAR = '[^A-Z\\\\/*?"<>| ,#:]';
const FIRST_CHAR = '[^A-Z\\\\/*?"<>| ,#:_+.-]';
const AFTER_DOT = '[^A-Z\\\\/*?"<>| ,#:.]';
export const QUEUE_NAME_PATTERN = `^(${FIRST_CHAR}${NAME_CHAR}*|\\.${AFTER_DOT}${NAME_CHAR}*|\\.\\.${NAME_CHAR}+)$`;

/** Returns the list of rule violations; empty when the name is valid. */
export function queueNameViolations(name: string): string[] {
  const reasons: string[] = [];
  if (name.length === 0) {
    reasons.push('Queue name cannot be empty');
    return reasons;
  }
  for (const c of FORBIDDEN_CHARS) {
    if (name.includes(c)) reasons.push(`Queue name cannot contain [${c}]`);
  }
  for (const p of ['_', '-', '+']) {
    if (name.startsWith(p)) reasons.push(`Queue name cannot start with [${p}]`);
  }
  if (name === '.' || name === '..') reasons.push(`Queue name cannot be [${name}]`);
  if (name.toLowerCase() !== name) reasons.push('Queue name must be lower case');
  if (hasLoneSurrogate(name)) reasons.push('Queue name cannot contain a lone UTF-16 surrogate');
  if (Buffer.byteLength(name, 'utf8') > MAX_QUEUE_NAME_BYTES) {
    reasons.push(`Queue name cannot be longer than ${MAX_QUEUE_NAME_BYTES} bytes`);
  }
  return reasons;
}
