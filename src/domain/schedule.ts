/**
 * Recurring-task schedule expressions, as v1 accepts them (robfig/cron v3 `ParseStandard`, spec §8.1):
 * - 5-field cron `minute hour day-of-month month day-of-week` (no seconds field), names and `?` allowed;
 * - descriptors `@yearly` `@annually` `@monthly` `@weekly` `@daily` `@midnight` `@hourly`;
 * - `@every <Go duration>` (rounded up to 1s, sub-second parts truncated);
 * - an optional `TZ=Zone ` or `CRON_TZ=Zone ` prefix (UTC otherwise).
 * Cron matching is done by croner, a maintained library. Its syntax is wider than v1's, so each field is
 * first checked against robfig's grammar: `*`, `?`, values, `a-b` ranges, `/step`, lists, and names for
 * months and weekdays only; weekdays are 0-6. Croner's `L`, `#`, `W` and a weekday 7 are refused, as v1
 * refuses them (a schedule stored here then also means the same to a v1 server on the same data).
 * A schedule whose day of month never comes in its months (`0 0 31 4,6,9,11 *`) is refused too: v1's
 * library accepts it and then never fires it, and croner overflows its stack looking for a next run.
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

/** Longest schedule expression accepted; cron expressions are short, and croner's parse is not linear. */
export const MAX_SCHEDULE_EXPRESSION_LENGTH = 256;

/** A schedule must fire within this long of its creation or update (item 4 of issue 12). */
export const SCHEDULE_HORIZON_MS = 5 * 366 * 24 * 3600 * 1000;

interface FieldRule {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const WEEKDAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** robfig/cron v3's bounds of the five standard fields. */
const FIELD_RULES: readonly FieldRule[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES },
  { name: 'day of week', min: 0, max: 6, names: WEEKDAY_NAMES },
];

/** Days in each month, February counted with its leap day. */
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * The values a field selects (robfig's grammar: `*`/`?`, `a`, `a-b`, each with an optional `/step`,
 * comma-separated), or a ScheduleParseError naming the field. `star` says whether it began with `*`/`?`.
 */
function fieldValues(text: string, rule: FieldRule): { values: Set<number>; star: boolean } {
  const values = new Set<number>();
  let star = false;
  const value = (token: string): number => {
    const named = rule.names?.indexOf(token.toLowerCase()) ?? -1;
    if (named >= 0) return named + (rule.min === 1 ? 1 : 0);
    if (!/^\d{1,2}$/.test(token)) {
      throw new ScheduleParseError(`${rule.name}: ${JSON.stringify(token)} is not a value (allowed: numbers${rule.names ? ', names' : ''}, *, ?, -, /, ,)`);
    }
    const n = Number(token);
    if (n < rule.min || n > rule.max) {
      throw new ScheduleParseError(`${rule.name}: ${n} is outside ${rule.min}-${rule.max}`);
    }
    return n;
  };
  for (const part of text.split(',')) {
    const [range = '', step, extra] = part.split('/');
    if (extra !== undefined) throw new ScheduleParseError(`${rule.name}: too many slashes in ${JSON.stringify(part)}`);
    let from: number;
    let to: number;
    if (range === '*' || range === '?') {
      star = true;
      [from, to] = [rule.min, rule.max];
    } else {
      const bounds = range.split('-');
      if (bounds.length > 2) throw new ScheduleParseError(`${rule.name}: too many hyphens in ${JSON.stringify(range)}`);
      from = value(bounds[0] ?? '');
      // robfig: `a/n` runs from a to the end of the field.
      to = bounds.length === 2 ? value(bounds[1] ?? '') : step === undefined ? from : rule.max;
      if (from > to) throw new ScheduleParseError(`${rule.name}: beginning of range (${from}) beyond end of range (${to})`);
    }
    let every = 1;
    if (step !== undefined) {
      every = /^\d{1,2}$/.test(step) ? Number(step) : 0;
      if (every <= 0) throw new ScheduleParseError(`${rule.name}: step of range should be a positive number, got ${JSON.stringify(step)}`);
    }
    for (let v = from; v <= to; v += every) values.add(v);
  }
  return { values, star };
}

/**
 * Checks the five fields against robfig/cron's standard grammar, and that a restricted day of month
 * exists in one of the months when the day of week does not widen it.
 */
function checkCronFields(fields: readonly string[]): void {
  const parsed = fields.map((f, i) => fieldValues(f, FIELD_RULES[i] as FieldRule));
  const [, , days, months, weekdays] = parsed as [unknown, unknown, (typeof parsed)[0], (typeof parsed)[0], (typeof parsed)[0]];
  if (!days.star && weekdays.star) {
    const fits = [...months.values].some((m) => [...days.values].some((d) => d <= (DAYS_IN_MONTH[m - 1] as number)));
    if (!fits) throw new ScheduleParseError('never fires: no month of the schedule has its day of month');
  }
}

export interface Schedule {
  readonly expression: string;
  /** The first fire time strictly after `afterMs`, or undefined if the schedule never fires again. */
  nextAfter(afterMs: number): number | undefined;
}

export function parseSchedule(expression: string): Schedule {
  if (expression.length > MAX_SCHEDULE_EXPRESSION_LENGTH) {
    throw new ScheduleParseError(`longer than ${MAX_SCHEDULE_EXPRESSION_LENGTH} characters`);
  }
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
  checkCronFields(fields);
  let cron: Cron;
  try {
    // robfig/cron reads `?` as `*`; croner would read it as "the value at start-up".
    cron = new Cron(fields.map((f) => (f === '?' ? '*' : f)).join(' '), { paused: true, timezone, legacyMode: true });
  } catch (e) {
    throw new ScheduleParseError((e as Error).message);
  }
  return {
    expression,
    nextAfter: (afterMs) => {
      try {
        return cron.nextRun(new Date(afterMs))?.getTime();
      } catch {
        // Croner recurses on dates it cannot find (a stack overflow); the fields check refuses the known
        // cases, and anything else is a schedule that does not fire rather than a crash of the caller.
        return undefined;
      }
    },
  };
}

/**
 * A schedule that may be stored at `now`: it parses, and fires within SCHEDULE_HORIZON_MS. Used by
 * the API at create and update, so that what the scheduler loads fires.
 */
export function parseStorableSchedule(expression: string, now: number): Schedule {
  const schedule = parseSchedule(expression);
  const next = schedule.nextAfter(now);
  if (next === undefined || next - now > SCHEDULE_HORIZON_MS) {
    throw new ScheduleParseError('never fires: no run within the next 5 years');
  }
  return schedule;
}
