/**
 * Go duration strings: parsing as Go's time.ParseDuration, formatting as Go's Duration.String()
 * (expected values are what Go 1.x produces).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DurationParseError, formatGoDuration, msToNs, nsToMs, parseGoDuration } from './duration.js';

const NS = 1;
const US = 1_000;
const MS = 1_000_000;
const S = 1_000_000_000;
const M = 60 * S;
const H = 60 * M;

describe('parseGoDuration', () => {
  const valid: Array<[string, number]> = [
    ['0', 0],
    ['+0', 0],
    ['-0', 0],
    ['0s', 0],
    ['0ms', 0],
    ['1ns', 1 * NS],
    ['1us', 1 * US],
    ['1µs', 1 * US], // U+00B5 micro sign
    ['1μs', 1 * US], // U+03BC Greek small letter mu
    ['1ms', 1 * MS],
    ['100ms', 100 * MS],
    ['300ms', 300 * MS],
    ['5000ms', 5 * S],
    ['1s', S],
    ['1.5s', 1.5 * S],
    ['.5s', 0.5 * S],
    ['5.s', 5 * S],
    ['1.0000000001s', S], // below a nanosecond: truncated, as Go
    ['1.9999999999s', 2 * S - 1],
    ['2.25ms', 2250 * US],
    ['1m', M],
    ['30m', 30 * M],
    ['30m0s', 30 * M],
    ['1h', H],
    ['1h0m0s', H],
    ['1h30m', H + 30 * M],
    ['1m30s', 90 * S],
    ['90s', 90 * S],
    ['1h1m1s1ms1us1ns', H + M + S + MS + US + NS],
    ['3h2h', 5 * H], // Go sums repeated units
    ['1.5h', 90 * M],
    ['-1.5h', -90 * M],
    ['+5s', 5 * S],
    ['-300ms', -300 * MS],
    ['2562047h', 2562047 * H], // the largest whole number of hours in an int64
  ];
  for (const [input, ns] of valid) {
    it(`parses ${JSON.stringify(input)} as ${ns}ns`, () => {
      assert.equal(parseGoDuration(input), ns);
    });
  }

  const invalid: Array<[string, string]> = [
    ['5000', 'time: missing unit in duration "5000"'],
    ['1.5', 'time: missing unit in duration "1.5"'],
    ['', 'time: invalid duration ""'],
    ['-', 'time: invalid duration "-"'],
    ['+', 'time: invalid duration "+"'],
    ['s', 'time: invalid duration "s"'],
    ['.s', 'time: invalid duration ".s"'],
    ['1x', 'time: unknown unit "x" in duration "1x"'],
    ['1sec', 'time: unknown unit "sec" in duration "1sec"'],
    ['1e3s', 'time: unknown unit "e" in duration "1e3s"'],
    ['soon', 'time: invalid duration "soon"'],
    [' 1s', 'time: invalid duration " 1s"'],
    ['1s ', 'time: invalid duration "1s "'],
    ['1h-5m', 'time: invalid duration "1h-5m"'],
    ['9223372036854775808ns', 'time: invalid duration "9223372036854775808ns"'], // int64 max + 1
    ['2562048h', 'time: invalid duration "2562048h"'], // overflows int64 nanoseconds
    ['100000000000000000000s', 'time: invalid duration "100000000000000000000s"'],
  ];
  for (const [input, message] of invalid) {
    it(`rejects ${JSON.stringify(input)}`, () => {
      assert.throws(
        () => parseGoDuration(input),
        (e: unknown) => e instanceof DurationParseError && e.message === message,
        `expected ${message}`,
      );
    });
  }

  it('rejects an upper-case unit', () => {
    assert.throws(() => parseGoDuration('1H'), DurationParseError);
    assert.throws(() => parseGoDuration('1S'), DurationParseError);
  });
});

describe('formatGoDuration', () => {
  const cases: Array<[number, string]> = [
    [0, '0s'],
    [1, '1ns'],
    [999, '999ns'],
    [1 * US, '1\u00B5s'],
    [1500, '1.5\u00B5s'],
    [1 * MS, '1ms'],
    [1.5 * MS, '1.5ms'],
    [100 * MS, '100ms'],
    [999_999_999, '999.999999ms'],
    [S, '1s'],
    [1.5 * S, '1.5s'],
    [S + 1, '1.000000001s'],
    [5 * S, '5s'],
    [59 * S, '59s'],
    [M, '1m0s'],
    [61 * S, '1m1s'],
    [90 * S, '1m30s'],
    [30 * M, '30m0s'],
    [H, '1h0m0s'],
    [H + 30 * M, '1h30m0s'],
    [H + 0.5 * S, '1h0m0.5s'],
    [25 * H, '25h0m0s'],
    [168 * H, '168h0m0s'],
    [-1.5 * S, '-1.5s'],
    [-1, '-1ns'],
    [-H, '-1h0m0s'],
    [1.9, '1ns'], // fractions of a nanosecond are dropped
  ];
  for (const [ns, text] of cases) {
    it(`formats ${ns}ns as ${text}`, () => {
      assert.equal(formatGoDuration(ns), text);
    });
  }

  it('round-trips what it formats', () => {
    for (const ns of [0, 1, 1234, 5 * MS, 1.5 * S, 90 * S, 30 * M, H + 2 * M + 3 * S + 4 * MS, 25 * H, -7 * S]) {
      assert.equal(parseGoDuration(formatGoDuration(ns)), ns);
    }
  });

  it('formats the v1 example inputs as Go does', () => {
    for (const [input, text] of [
      ['30m', '30m0s'],
      ['1h', '1h0m0s'],
      ['5000ms', '5s'],
      ['1h30m', '1h30m0s'],
      ['300ms', '300ms'],
    ]) {
      assert.equal(formatGoDuration(parseGoDuration(input as string)), text);
    }
  });
});

describe('ms/ns conversions', () => {
  it('converts both ways', () => {
    assert.equal(nsToMs(1.5 * S), 1500);
    assert.equal(msToNs(1500), 1.5 * S);
    assert.equal(nsToMs(msToNs(42)), 42);
  });
});
