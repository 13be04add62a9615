/**
 * Schedule ticks of recurring tasks (spec §8), as pure functions.
 *
 * Every tick has a deterministic identity: the task it enqueues gets an id derived from the recurring
 * task's id and the tick's scheduled time. The per-queue idempotency of task ids then turns a second
 * enqueue of the same tick (by a deposed leader that has not noticed yet, or by a new leader repeating
 * the tick its predecessor enqueued just before it died) into a harmless "already exists".
 *
 * Ticks follow a chain: each is `schedule.nextAfter(previous)`, starting from an anchor (the last tick
 * handled, or the moment the schedule was last written). Two leaders reading the same anchor walk the
 * same chain, so they agree on tick times (and ids) even for `@every`, whose ticks are relative.
 */
import { createHash } from 'node:crypto';
import type { Schedule } from './schedule.js';

/**
 * The id of the task a tick enqueues: 32 lower-case hex characters, like a generated v1 id, so that it
 * is safe in URLs whatever the recurring task id contains.
 */
export function recurringTickTaskId(recurringTaskId: string, tickAt: number): string {
  return createHash('sha256').update(`tasques-recurring-tick\n${recurringTaskId}\n${tickAt}`).digest('hex').slice(0, 32);
}

/** How many missed ticks `nextTickAfter` steps over before it gives up walking the chain. */
export const MAX_SKIPPED_TICKS = 1_000;

/**
 * The first tick of the chain through `tickAt` that is later than `now`: the tick to wait for after the
 * one at `tickAt` was handled. Ticks missed in between (the leader was down or late) are skipped, so a
 * missed stretch fires once, not once per missed tick. After MAX_SKIPPED_TICKS steps the chain is left
 * and the schedule restarts from `now`. Undefined if the schedule never fires again.
 */
export function nextTickAfter(schedule: Schedule, tickAt: number, now: number): number | undefined {
  let next = schedule.nextAfter(tickAt);
  for (let skipped = 0; next !== undefined && next <= now; skipped++) {
    if (skipped >= MAX_SKIPPED_TICKS) return schedule.nextAfter(now);
    next = schedule.nextAfter(next);
  }
  return next;
}

/**
 * Where the tick chain of a recurring task starts: its last handled tick or, if its schedule was written
 * after that (or it never ticked), the moment it was written. A new or changed schedule never fires for a
 * time before it existed.
 */
export function tickChainAnchor(modifiedAt: number, lastTickAt: number | undefined): number {
  return lastTickAt === undefined ? modifiedAt : Math.max(lastTickAt, modifiedAt);
}

/**
 * When a recurring task fires next, as seen at `now`: the first tick after the anchor. A tick already
 * due (the leader is about to fire it, or was down) counts as `now`. Undefined if it never fires again.
 */
export function upcomingTick(schedule: Schedule, anchor: number, now: number): number | undefined {
  const next = schedule.nextAfter(anchor);
  return next === undefined ? undefined : Math.max(next, now);
}
