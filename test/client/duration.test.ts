import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatGoDuration, parseGoDuration } from '../../src/client/index.js';

describe('Go durations', () => {
  it('parses what the server sends and what users write', () => {
    assert.equal(parseGoDuration('30m0s'), 1_800_000);
    assert.equal(parseGoDuration('1h30m'), 5_400_000);
    assert.equal(parseGoDuration('1.5s'), 1500);
    assert.equal(parseGoDuration('100ms'), 100);
    assert.equal(parseGoDuration('250us'), 0.25);
    assert.equal(parseGoDuration('250µs'), 0.25);
    assert.equal(parseGoDuration('0s'), 0);
    assert.equal(parseGoDuration('0'), 0);
    assert.equal(parseGoDuration('-2s'), -2000);
  });

  it('rejects what is not a duration', () => {
    for (const bad of ['', '5', '5x', 's', '1.2.3s', '5 s', 'abc']) {
      assert.throws(() => parseGoDuration(bad), RangeError, bad);
    }
  });

  it('formats milliseconds so that the server reads them back', () => {
    assert.equal(formatGoDuration(5000), '5s');
    assert.equal(formatGoDuration(1500), '1500ms');
    assert.equal(formatGoDuration(0), '0s');
    assert.equal(formatGoDuration(0.5), '500us');
    for (const ms of [1, 999, 1000, 61_000, 0.25]) assert.equal(parseGoDuration(formatGoDuration(ms)), ms);
    assert.throws(() => formatGoDuration(Number.NaN), RangeError);
  });
});
