/**
 * Go duration strings, the v1 wire format of `processing_timeout` and `block_for` ("300ms", "5s",
 * "1h30m", "30m0s"). Kept here, not imported from the server, so that the client loads nothing else.
 */

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3, // U+00B5 micro sign
  'μs': 1e-3, // U+03BC Greek mu
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/**
 * Milliseconds in a Go duration string, e.g. `parseGoDuration("1m30s") === 90000`.
 * @throws RangeError if `text` is not a Go duration.
 */
export function parseGoDuration(text: string): number {
  let s = text.trim();
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s.startsWith('-')) sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw new RangeError(`not a Go duration: ${JSON.stringify(text)}`);
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < s.length) {
    const match = PART.exec(s);
    if (!match) throw new RangeError(`not a Go duration: ${JSON.stringify(text)}`);
    total += Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  }
  return sign * total;
}

/**
 * A Go duration string for `ms` milliseconds: whole seconds as "5s", whole milliseconds as "1500ms",
 * anything finer in microseconds. Negative values keep their sign (the server treats them as 0).
 */
export function formatGoDuration(ms: number): string {
  if (!Number.isFinite(ms)) throw new RangeError(`not a finite duration: ${ms}`);
  if (ms === 0) return '0s';
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  if (Number.isInteger(ms)) return `${ms}ms`;
  return `${Math.round(ms * 1000)}us`;
}
