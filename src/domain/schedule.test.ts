/** Schedule expressions as v1 accepts them (robfig/cron v3 ParseStandard, spec §8.1), and their fire times. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSchedule, parseStorableSchedule, ScheduleParseError } from './schedule.js';

const at = (iso: string) => Date.parse(iso);
const next = (expression: string, afterIso: string) => {
  const ms = parseSchedule(expression).nextAfter(at(afterIso));
  return ms === undefined ? undefined : new Date(ms).toISOString();
};

describe('parseSchedule: accepted expressions', () => {
  for (const expression of [
    '0,5,10 * * * *',
    '* * * * *',
    '*/15 * * * *',
    '0-30/10 8-18 * * 1-5',
    '0 0 ? * *',
    '0 9 * * MON-FRI',
    '0 0 1 JAN,JUL *',
    '@every 15m',
    '@every 90s',
    '@every 1m30s',
    '@every 500ms',
    '@yearly',
    '@annually',
    '@monthly',
    '@weekly',
    '@daily',
    '@midnight',
    '@hourly',
    'TZ=Europe/Paris 0 9 * * MON-FRI',
    'CRON_TZ=America/New_York 30 2 * * *',
    'TZ=UTC @daily',
    '  0 0 * * *  ',
  ]) {
    it(`accepts ${JSON.stringify(expression)}`, () => {
      const schedule = parseSchedule(expression);
      assert.equal(schedule.expression, expression, 'the expression is kept as given');
      assert.equal(typeof schedule.nextAfter(at('2026-01-01T00:00:00Z')), 'number');
    });
  }
});

describe('parseSchedule: rejected expressions', () => {
  for (const expression of [
    'lolz',
    'lol',
    'hahahahhaah',
    '',
    '* * * *', // 4 fields
    '* * * * * *', // 6 fields: there is no seconds field
    '0 0 * * * 2026',
    '60 * * * *',
    '* 24 * * *',
    '0 0 32 * *',
    '0 0 * 13 *',
    '0 0 * * 8',
    '1-/2 * * * *',
    '@every -1s',
    '@every 0s',
    '@every',
    '@every soon',
    '@every 5000',
    '@reboot',
    '@fortnightly',
    'TZ=Mars/Olympus 0 * * * *',
    // croner syntax that robfig/cron v3 (v1) refuses
    '0 0 L * *',
    '0 0 * * 5L',
    '0 0 * * 5#5',
    '0 0 15W * *',
    '0 0 * * 7',
    '*/0 * * * *',
    '5-1 * * * *',
    '0 0 * jan-foo *',
    '0 0 * * */x',
    // days that never come in the months given
    '0 0 31 4,6,9,11 *',
    '0 0 30,31 2 *',
    `${'0,'.repeat(200)}0 * * * *`,
  ]) {
    it(`rejects ${JSON.stringify(expression)}`, () => {
      assert.throws(() => parseSchedule(expression), ScheduleParseError);
    });
  }

  it('explains what is wrong', () => {
    assert.throws(() => parseSchedule('lolz'), /expected exactly 5 fields, found 1/);
    assert.throws(() => parseSchedule('* * * * * *'), /expected exactly 5 fields, found 6/);
    assert.throws(() => parseSchedule('@every -1s'), /@every -1s/);
    assert.throws(() => parseSchedule('@every 5000'), /missing unit/);
    assert.throws(() => parseSchedule('TZ=Mars/Olympus 0 * * * *'), /Mars\/Olympus/);
  });
});

describe('Schedule.nextAfter', () => {
  it('fires on the listed minutes, strictly after the given time', () => {
    assert.equal(next('0,5,10 * * * *', '2026-01-01T00:00:00Z'), '2026-01-01T00:05:00.000Z');
    assert.equal(next('0,5,10 * * * *', '2026-01-01T00:04:59.999Z'), '2026-01-01T00:05:00.000Z');
    assert.equal(next('0,5,10 * * * *', '2026-01-01T00:05:00Z'), '2026-01-01T00:10:00.000Z');
    assert.equal(next('0,5,10 * * * *', '2026-01-01T00:10:00Z'), '2026-01-01T01:00:00.000Z');
    assert.equal(next('*/15 * * * *', '2026-01-01T00:07:00Z'), '2026-01-01T00:15:00.000Z');
    assert.equal(next('0 0 ? * *', '2026-01-01T00:00:00Z'), '2026-01-02T00:00:00.000Z');
  });

  it('runs @every from the start of the current second, rounding sub-second intervals up to 1s', () => {
    assert.equal(next('@every 15m', '2026-01-01T00:00:00.500Z'), '2026-01-01T00:15:00.000Z');
    assert.equal(next('@every 90s', '2026-01-01T00:00:00Z'), '2026-01-01T00:01:30.000Z');
    assert.equal(next('@every 1m30s', '2026-01-01T10:20:30.999Z'), '2026-01-01T10:22:00.000Z');
    assert.equal(next('@every 500ms', '2026-01-01T00:00:00Z'), '2026-01-01T00:00:01.000Z');
    // Sub-second parts of longer intervals are truncated.
    assert.equal(next('@every 1.5s', '2026-01-01T00:00:00Z'), '2026-01-01T00:00:01.000Z');
  });

  it('expands the descriptors (2026-01-01 is a Thursday)', () => {
    assert.equal(next('@hourly', '2026-01-01T00:30:00Z'), '2026-01-01T01:00:00.000Z');
    assert.equal(next('@daily', '2026-01-01T00:00:00Z'), '2026-01-02T00:00:00.000Z');
    assert.equal(next('@midnight', '2026-01-01T12:00:00Z'), '2026-01-02T00:00:00.000Z');
    assert.equal(next('@weekly', '2026-01-01T00:00:00Z'), '2026-01-04T00:00:00.000Z');
    assert.equal(next('@monthly', '2026-01-15T00:00:00Z'), '2026-02-01T00:00:00.000Z');
    assert.equal(next('@yearly', '2026-01-01T00:00:00Z'), '2027-01-01T00:00:00.000Z');
    assert.equal(next('@annually', '2026-06-01T00:00:00Z'), '2027-01-01T00:00:00.000Z');
  });

  it('uses UTC without a TZ= prefix, and the named zone (with DST) with one', () => {
    assert.equal(next('0 9 * * *', '2026-01-01T00:00:00Z'), '2026-01-01T09:00:00.000Z');
    // Paris is UTC+1 in winter…
    assert.equal(next('TZ=Europe/Paris 0 9 * * MON-FRI', '2026-01-01T00:00:00Z'), '2026-01-01T08:00:00.000Z');
    // …Friday 09:00 → Monday 09:00…
    assert.equal(next('TZ=Europe/Paris 0 9 * * MON-FRI', '2026-01-02T08:00:00Z'), '2026-01-05T08:00:00.000Z');
    // …and UTC+2 in summer.
    assert.equal(next('TZ=Europe/Paris 0 9 * * MON-FRI', '2026-07-01T00:00:00Z'), '2026-07-01T07:00:00.000Z');
    assert.equal(next('CRON_TZ=America/New_York 0 9 * * *', '2026-01-01T00:00:00Z'), '2026-01-01T14:00:00.000Z');
  });

  it('fires when either day-of-month or day-of-week matches, when both are restricted (cron semantics)', () => {
    assert.equal(next('0 0 13 * FRI', '2026-01-01T00:00:00Z'), '2026-01-02T00:00:00.000Z'); // Friday the 2nd
    assert.equal(next('0 0 13 * FRI', '2026-01-10T00:00:00Z'), '2026-01-13T00:00:00.000Z'); // Tuesday the 13th
  });

  it('refuses a day of month that none of its months has, unless a day of week widens it', () => {
    assert.throws(() => parseSchedule('0 0 31 2 *'), /never fires/);
    assert.throws(() => parseSchedule('0 0 31 4,6,9,11 ?'), /never fires/);
    assert.equal(next('0 0 31 4,6,9,11 FRI', '2026-01-01T00:00:00Z'), '2026-04-03T00:00:00.000Z');
    assert.equal(next('0 0 29 2 *', '2026-01-01T00:00:00Z'), '2028-02-29T00:00:00.000Z');
  });

  it('reads names of months and weekdays in any case, and a/n as a to the end by n', () => {
    assert.equal(next('0 0 1 jul *', '2026-01-01T00:00:00Z'), '2026-07-01T00:00:00.000Z');
    assert.equal(next('0 0 * * sat', '2026-01-01T00:00:00Z'), '2026-01-03T00:00:00.000Z');
    assert.equal(next('50/5 * * * *', '2026-01-01T00:00:00Z'), '2026-01-01T00:50:00.000Z');
  });
});

describe('parseStorableSchedule', () => {
  it('refuses a schedule without a run within 5 years, and accepts one every 4 years', () => {
    const now = at('2026-03-01T00:00:00Z');
    assert.throws(() => parseStorableSchedule('0 0 31 4,6,9,11 *', now), /never fires/);
    assert.equal(parseStorableSchedule('0 0 29 2 *', now).nextAfter(now), at('2028-02-29T00:00:00Z'));
  });
});
