/**
 * Go `time.Duration` strings, as v1 puts them on the wire ("300ms", "1h30m", "30m0s").
 * Parsing follows Go's `time.ParseDuration`; formatting follows `Duration.String()`, because v1 clients
 * round-trip `processing_timeout` as an opaque string.
 */

// One parser for server and client: the client package's (it may import nothing of the server, so the
// server takes it from there). Nanoseconds, Go's `time.ParseDuration` rules and messages.
import { parseGoDurationNs } from '@tasques/client';

export { DurationParseError, MAX_DURATION_LENGTH } from '@tasques/client';
/** Parses a Go duration string into nanoseconds. Throws DurationParseError with Go-like messages. */
export const parseGoDuration = parseGoDurationNs;

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
