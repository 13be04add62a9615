/** The strict RFC 3339 parser every date-time of the API goes through. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRfc3339 } from './time.js';

describe('parseRfc3339', () => {
  it('reads valid date-times, with zones, fractions, lower-case t/z and year 1', () => {
    for (const [text, iso] of [
      ['2026-01-02T15:04:05Z', '2026-01-02T15:04:05.000Z'],
      ['2026-01-02t15:04:05z', '2026-01-02T15:04:05.000Z'],
      ['2026-01-02T15:04:05.123456789Z', '2026-01-02T15:04:05.123Z'],
      ['2026-01-02T15:04:05.5+02:00', '2026-01-02T13:04:05.500Z'],
      ['2026-01-02T00:30:00-01:30', '2026-01-02T02:00:00.000Z'],
      ['2028-02-29T00:00:00Z', '2028-02-29T00:00:00.000Z'],
      ['2000-02-29T00:00:00Z', '2000-02-29T00:00:00.000Z'],
    ]) {
      assert.equal(new Date(parseRfc3339(text as string) as number).toISOString(), iso, text);
    }
    assert.equal(parseRfc3339('0001-01-01T00:00:00Z'), Date.parse('0001-01-01T00:00:00Z'));
  });

  it('refuses dates that do not exist and everything that is not RFC 3339', () => {
    for (const text of [
      '2026-02-31T00:00:00Z',
      '2026-02-29T00:00:00Z',
      '1900-02-29T00:00:00Z',
      '2026-04-31T00:00:00Z',
      '2026-13-01T00:00:00Z',
      '2026-00-01T00:00:00Z',
      '2026-01-00T00:00:00Z',
      '2026-01-01T24:00:00Z',
      '2026-01-01T00:60:00Z',
      '2026-12-31T23:59:60Z',
      '2026-01-01T00:00:00',
      '2026-01-01T00:00:00+24:00',
      '2026-01-01 00:00:00Z',
      '2026-01-01',
      '2026-01-01T00:00:00.Z',
      '2026-01-01T00:00:00.1234567890Z',
      'yesterday',
      '1767225600000',
      '',
    ]) {
      assert.equal(parseRfc3339(text), undefined, text);
    }
  });
});
