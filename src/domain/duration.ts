/**
 * Go `time.Duration` strings, as v1 puts them on the wire ("300ms", "1h30m", "30m0s").
 * Parsing follows Go's `time.ParseDuration`; formatting follows `Duration.String()`, because v1 clients
 * round-trip `processing_timeout` as an opaque string.
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

export class DurationParseError extends Error {}

/**
 * Longest duration string parsed. The longest Go prints is 24 characters ("2562047h47m16.854775807s");
 * the parse turns digits into BigInts, whose cost grows faster than the length.
 */
export const MAX_DURATION_LENGTH = 64;

/** Parses a Go duration string into nanoseconds. Throws DurationParseError with Go-like messages. */
export function parseGoDuration(input: string): number {
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

/** Formats nanoseconds like Go's `Duration.String()`: "0s", "1.5s", "100ms", "30m0s", "1h0m0s". */
export function formatGoDuration(nsInput: number): string {
  let ns = BigInt(Math.trunc(nsInput));
  if (ns === 0n) return '0s';
  const sign = ns < 0n ? '-' : '';
  if (ns < 0n) ns = -ns;
  const frac = (value: bigint, digits: number): string => {
    const scale = 10n ** BigInt(digits);
    const whole = value / scale;
    const rest = (value % scale).toString().padStart(digits, '0').replace(/0+$/, '');
    return rest ? `${whole}.${rest}` : `${whole}`;
  };
  if (ns < 1_000n) return `${sign}${ns}ns`;
  if (ns < 1_000_000n) return `${sign}${frac(ns, 3)}µs`;
  if (ns < 1_000_000_000n) return `${sign}${frac(ns, 6)}ms`;
  const hours = ns / 3_600_000_000_000n;
  const minutes = (ns / 60_000_000_000n) % 60n;
  const secondsNs = ns % 60_000_000_000n;
  let out = `${frac(secondsNs, 9)}s`;
  if (hours > 0n || minutes > 0n) out = `${minutes}m${out}`;
  if (hours > 0n) out = `${hours}h${out}`;
  return sign + out;
}

/** True if `value` parses as a Go duration (used by the config and request-body `go-duration` formats). */
export function isGoDuration(value: string): boolean {
  try {
    parseGoDuration(value);
    return true;
  } catch {
    return false;
  }
}

export const NS_PER_MS = 1_000_000;

export function nsToMs(ns: number): number {
  return ns / NS_PER_MS;
}

export function msToNs(ms: number): number {
  return ms * NS_PER_MS;
}
