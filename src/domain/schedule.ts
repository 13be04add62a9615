/**
 * Recurring-task schedule expressions, as v1 accepts them (robfig/cron v3 `ParseStandard`, spec §8.1):
 * - 5-field cron `minute hour day-of-month month day-of-week` (no seconds field), names and `?` allowed;
 * - descriptors `@yearly` `@annually` `@monthly` `@weekly` `@daily` `@midnight` `@hourly`;
 * - `@every <Go duration>` (rounded up to 1s, sub-second parts truncated);
 * - an optional `TZ=Zone ` or `CRON_TZ=Zone ` prefix (UTC otherwise).
 * Cron matching is done by croner, a maintained library.
 */
import { Cron } from 'croner';
import { parseGoDuration } from './duration.js';

const DESCRIPTORS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

export class ScheduleParseError extends Error {}

export interface Schedule {
  readonly expression: string;
  /** The first fire time strictly after `afterMs`, or undefined if the schedule never fires again. */
  nextAfter(afterMs: number): number | undefined;
}

export function parseSchedule(expression: string): Schedule {
  let rest = expression.trim();
  let timezone = 'UTC';
  const tz = /^(?:CRON_TZ|TZ)=(\S+)\s+/.exec(rest);
  if (tz) {
    timezone = tz[1] as string;
    rest = rest.slice(tz[0].length);
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    } catch {
      throw new ScheduleParseError(`provided bad location ${timezone}: unknown time zone ${timezone}`);
    }
  }
  if (rest.startsWith('@every')) {
    const durationText = rest.slice('@every'.length).trim();
    let ns: number;
    try {
      ns = parseGoDuration(durationText);
    } catch (e) {
      throw new ScheduleParseError(`failed to parse duration ${rest}: ${(e as Error).message}`);
    }
    if (ns <= 0) throw new ScheduleParseError(`failed to parse duration ${rest}: must be positive`);
    // robfig/cron: below 1s rounds up to 1s; otherwise sub-second parts are truncated.
    const everyMs = ns < 1e9 ? 1000 : Math.floor(ns / 1e9) * 1000;
    return { expression, nextAfter: (afterMs) => afterMs - (afterMs % 1000) + everyMs };
  }
  const pattern = rest.startsWith('@') ? DESCRIPTORS[rest] : rest;
  if (pattern === undefined) throw new ScheduleParseError(`unrecognized descriptor: ${rest}`);
  const fields = pattern.split(/\s+/).filter((f) => f.length > 0);
  if (fields.length !== 5) {
    throw new ScheduleParseError(`expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]`);
  }
  let cron: Cron;
  try {
    // robfig/cron reads `?` as `*`; croner would read it as "the value at start-up".
    cron = new Cron(fields.map((f) => (f === '?' ? '*' : f)).join(' '), { paused: true, timezone, legacyMode: true });
  } catch (e) {
    throw new ScheduleParseError((e as Error).message);
  }
  return {
    expression,
    nextAfter: (afterMs) => cron.nextRun(new Date(afterMs))?.getTime(),
  };
}
