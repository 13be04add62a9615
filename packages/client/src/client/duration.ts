/**
 * Go duration strings, the v1 wire format of `processing_timeout` and `block_for` ("300ms", "5s",
 * "1h30m", "30m0s"). Kept here, not imported from the server, so that the client loads nothing else.
 */

const UNIT_NS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const MAX_INT64 = (1n << 63n) - 1n;

/** A string that is not a Go duration. A RangeError, so `catch (e) { if (e instanceof RangeError) … }` works. */
export class DurationParseError extends RangeError {}

/**
 * Longest duration string parsed. The longest Go prints is 24 characters ("2562047h47m16.854775807s");
 * the parse turns digits into BigInts, whose cost grows faster than the length.
 */
export const MAX_DURATION_LENGTH = 64;

/**
 * Nanoseconds in a Go duration string, exactly as Go's `time.ParseDuration` reads it (the server's parser:
 * src/domain/duration.ts re-exports this one). Throws DurationParseError with Go-like messages.
 */
export function parseGoDurationNs(input: string): number {
  const fail = (why: string): never => {
    throw new DurationParseError(`time: ${why} ${JSON.stringify(input)}`);
  };
  if (input.length > MAX_DURATION_LENGTH) {
    throw new DurationParseError(`time: invalid duration: longer than ${MAX_DURATION_LENGTH} characters`);
  }
  let s = input;
  let negative = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = s.startsWith('-');
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') fail('invalid duration');
  let totalNs = 0n;
  const part = /^(\d*)(?:\.(\d*))?([a-zµμ]+)/;
  while (s.length > 0) {
    const m = part.exec(s);
    if (!m) fail(/^[\d.]/.test(s) ? 'missing unit in duration' : 'invalid duration');
    const [whole, intPart = '', fracPart, unit = ''] = m as RegExpExecArray;
    if (intPart === '' && (fracPart === undefined || fracPart === '')) fail('invalid duration');
    const unitNs = UNIT_NS[unit];
    if (unitNs === undefined) fail(`unknown unit ${JSON.stringify(unit)} in duration`);
    let ns = BigInt(intPart === '' ? '0' : intPart) * (unitNs as bigint);
    if (fracPart) {
      const scale = 10n ** BigInt(fracPart.length);
      ns += (BigInt(fracPart) * (unitNs as bigint)) / scale;
    }
    totalNs += ns;
    if (totalNs > MAX_INT64) fail('invalid duration');
    s = s.slice(whole.length);
  }
  return Number(negative ? -totalNs : totalNs);
}

/**
 * Milliseconds in a Go duration string, e.g. `parseGoDuration("1m30s") === 90000` (surrounding spaces are
 * ignored).
 * @throws DurationParseError (a RangeError) if `text` is not a Go duration.
 */
export function parseGoDuration(text: string): number {
  return parseGoDurationNs(text.trim()) / 1_000_000;
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
