/**
 * The RecurringScheduler (leader only, spec §8): enqueues a task for every schedule tick of every
 * recurring task.
 *
 * What it keeps in memory is a copy of the recurring tasks with the time of each one's next tick. It
 * loads all of them when it starts (this process became leader), then every `sync_run_interval` it reads
 * the ones written since it last looked (no `loaded_at`: v1's dirty flag, set by every API write on any
 * server) and marks them loaded with a compare-and-set, so a write that races with the marking is simply
 * seen at the next sync.
 *
 * Ticks never fire twice:
 * - each tick's task id is derived from (recurring id, tick time) (src/domain/recurring-tick.ts), so a
 *   second enqueue of the same tick, by a deposed leader or by a successor repeating its predecessor's
 *   last tick, is rejected by the per-queue idempotency of ids;
 * - the last tick handled is recorded in the store after the enqueue, and a new leader continues the
 *   chain from there.
 * After downtime (or a slow leader change) the missed stretch fires once, for the first missed tick,
 * and the schedule goes on from the next tick after now.
 *
 * `skip_if_outstanding_tasks_exist`: the tick is skipped (and recorded as handled) while a task spawned
 * by the recurring task is queued, claimed or failed.
 *
 * Paused (by an operator, `pausedAt`): ticks keep their chain but are recorded as handled without
 * enqueueing, so resuming starts from the next tick instead of catching up on the paused stretch.
 */
import { nextTickAfter, recurringTickTaskId, tickChainAnchor } from '../domain/recurring-tick.js';
import { parseSchedule, type Schedule } from '../domain/schedule.js';
import { recurringTaskInput, type TaskEngine } from '../engine/task-engine.js';
import { isTasquesError } from '../errors/index.js';
import type { Clock } from '../service/clock.js';
import type { Logger } from '../service/logger.js';
import { LoopService } from '../service/start-stop.js';
import { TestSignal } from '../service/test-signal.js';
import type { Store } from '../store/store.js';
import type { RecurringTask } from '../types/index.js';

import { RECURRING_SYNC_INTERVAL_DEFAULT_MS } from '../types/service-defaults.js';

export { RECURRING_SYNC_INTERVAL_DEFAULT_MS };

export interface RecurringSchedulerConfig {
  /** How often changes made through the API (on any server) are picked up. Defaults to 5s. */
  syncIntervalMs?: number;
}

/**
 * What became of one tick: a task was enqueued; it had been enqueued already (by this tick's earlier
 * handling, e.g. on another leader); it was skipped because tasks of the recurring task are outstanding;
 * it was skipped because an operator paused the recurring task; or the store failed (logged; the schedule
 * goes on with the next tick).
 */
export type RecurringTickOutcome = 'enqueued' | 'already-enqueued' | 'skipped-outstanding' | 'skipped-paused' | 'failed';

export interface RecurringTick {
  recurringTaskId: string;
  tickAt: number;
  /** The id of the task the tick enqueues (or would have). */
  taskId: string;
  outcome: RecurringTickOutcome;
}

export interface RecurringSchedulerResult {
  /** Recurring tasks (re)loaded from the store by this run. */
  synced: number;
  ticks: RecurringTick[];
  /** Clock time at which the next tick or sync is due. */
  nextRunAt: number;
}

interface Entry {
  task: RecurringTask;
  schedule: Schedule | undefined;
  lastTickAt: number | undefined;
  nextTickAt: number | undefined;
}

export class RecurringScheduler extends LoopService<RecurringSchedulerResult> {
  readonly testSignals = {
    ran: new TestSignal<RecurringSchedulerResult>('recurring-scheduler.ran'),
    ticked: new TestSignal<RecurringTick>('recurring-scheduler.ticked'),
  };
  private readonly syncIntervalMs: number;
  private readonly entries = new Map<string, Entry>();
  private loaded = false;
  private nextSyncAt = 0;

  constructor(
    private readonly store: Store,
    private readonly engine: TaskEngine,
    private readonly clock: Clock,
    logger: Logger,
    config: RecurringSchedulerConfig = {},
  ) {
    super('recurring-scheduler', logger);
    this.syncIntervalMs = config.syncIntervalMs ?? RECURRING_SYNC_INTERVAL_DEFAULT_MS;
  }

  /** The next tick time of each scheduled recurring task (for tests and diagnostics). */
  get schedule(): ReadonlyMap<string, number | undefined> {
    return new Map([...this.entries].map(([id, e]) => [id, e.nextTickAt]));
  }

  async runOnce(): Promise<RecurringSchedulerResult> {
    let synced = 0;
    const syncNow = this.clock.now();
    if (!this.loaded) {
      synced = await this.loadAll(syncNow);
      this.loaded = true;
      this.nextSyncAt = syncNow + this.syncIntervalMs;
    } else if (syncNow >= this.nextSyncAt) {
      synced = await this.syncChanged(syncNow);
      this.nextSyncAt = syncNow + this.syncIntervalMs;
    }

    const now = this.clock.now();
    const due = [...this.entries.values()]
      .filter((e) => e.nextTickAt !== undefined && e.nextTickAt <= now)
      .sort((a, b) => (a.nextTickAt as number) - (b.nextTickAt as number));
    const ticks: RecurringTick[] = [];
    for (const entry of due) {
      const tickAt = entry.nextTickAt as number;
      const tick = await this.fire(entry.task, tickAt);
      ticks.push(tick);
      this.testSignals.ticked.signal(tick);
      entry.lastTickAt = tickAt;
      entry.nextTickAt = this.nextTickOf(entry.task, () => entry.schedule && nextTickAfter(entry.schedule, tickAt, now));
    }

    let nextRunAt = this.nextSyncAt;
    for (const e of this.entries.values()) {
      if (e.nextTickAt !== undefined && e.nextTickAt < nextRunAt) nextRunAt = e.nextTickAt;
    }
    const result = { synced, ticks, nextRunAt };
    this.testSignals.ran.signal(result);
    return result;
  }

  protected delayAfter(result: RecurringSchedulerResult | undefined): number {
    if (result === undefined) return this.syncIntervalMs;
    return Math.min(Math.max(0, result.nextRunAt - this.clock.now()), this.syncIntervalMs);
  }

  /** Forgets everything: the next leader term starts from the store again. */
  protected override async doStop(): Promise<void> {
    await super.doStop();
    this.entries.clear();
    this.loaded = false;
  }

  /** Loads every recurring task, then takes the changed ones (soft-deleted included) into account. */
  private async loadAll(now: number): Promise<number> {
    const tasks = await this.store.recurringTaskList();
    const ticks = await this.lastTicks(tasks.map((t) => t.id));
    this.entries.clear();
    for (const task of tasks) this.entries.set(task.id, this.entryFor(task, ticks.get(task.id)));
    await this.syncChanged(now);
    return tasks.length;
  }

  /** Applies the recurring tasks written since they were last loaded, and marks them loaded. */
  private async syncChanged(now: number): Promise<number> {
    const changed = await this.store.recurringTaskListNotLoaded();
    if (changed.length === 0) return 0;
    const ticks = await this.lastTicks(changed.filter((t) => !t.isDeleted).map((t) => t.id));
    for (const task of changed) {
      if (task.isDeleted) {
        this.entries.delete(task.id);
        continue;
      }
      const known = this.entries.get(task.id)?.lastTickAt;
      const stored = ticks.get(task.id);
      const lastTickAt = known === undefined ? stored : stored === undefined ? known : Math.max(known, stored);
      this.entries.set(task.id, this.entryFor(task, lastTickAt));
    }
    for (const task of changed) {
      const { version, ...record } = task;
      try {
        const loaded = await this.store.recurringTaskUpdate({ task: { ...record, loadedAt: now }, expectedVersion: version });
        const entry = this.entries.get(task.id);
        if (entry && !task.isDeleted) entry.task = loaded;
      } catch (err) {
        // Written again since it was read: it is still not loaded, and the next sync takes it.
        if (isTasquesError(err, 'RECURRING_TASK_VERSION_CONFLICT')) continue;
        throw err;
      }
    }
    this.logger.debug({ recurring_tasks: changed.map((t) => t.id) }, 'recurring tasks synced');
    return changed.length;
  }

  private async lastTicks(ids: string[]): Promise<Map<string, number>> {
    const ticks = await this.store.recurringTaskTickList({ recurringTaskIds: ids });
    return new Map(ticks.map((t) => [t.recurringTaskId, t.lastTickAt]));
  }

  /**
   * The schedule of a recurring task, with its tick chain started at tickChainAnchor.
   */
  private entryFor(task: RecurringTask, lastTickAt: number | undefined): Entry {
    let schedule: Schedule | undefined;
    try {
      schedule = parseSchedule(task.scheduleExpression);
    } catch (err) {
      // Stored before the API refused it (or written around the API): this one task stays idle, the
      // others fire. It fires again once it is updated with a good schedule.
      this.logger.error({ err, recurring_task_id: task.id }, 'unparseable schedule; the recurring task will not fire');
    }
    const anchor = tickChainAnchor(task.modifiedAt, lastTickAt);
    return { task, schedule, lastTickAt, nextTickAt: this.nextTickOf(task, () => schedule?.nextAfter(anchor)) };
  }

  /** A next tick computed in isolation: a schedule that fails to compute one stops only its own task. */
  private nextTickOf(task: RecurringTask, compute: () => number | undefined): number | undefined {
    try {
      return compute();
    } catch (err) {
      this.logger.error({ err, recurring_task_id: task.id }, 'cannot compute the next run; the recurring task will not fire');
      return undefined;
    }
  }

  private async fire(task: RecurringTask, tickAt: number): Promise<RecurringTick> {
    const def = task.taskDefinition;
    const taskId = recurringTickTaskId(task.id, tickAt);
    let outcome: RecurringTickOutcome | undefined;
    try {
      if (task.pausedAt !== undefined) outcome = 'skipped-paused';
      else if (task.skipIfOutstandingTasksExist) {
        const outstanding = await this.store.taskCountOutstanding({ queue: def.queue, recurringTaskId: task.id });
        if (outstanding > 0) outcome = 'skipped-outstanding';
      }
      if (outcome === undefined) {
        try {
          await this.engine.createTask(recurringTaskInput(task, taskId));
          outcome = 'enqueued';
        } catch (err) {
          if (!isTasquesError(err, 'TASK_ALREADY_EXISTS')) throw err;
          outcome = 'already-enqueued';
        }
      }
      await this.store.recurringTaskTickRecord({ recurringTaskId: task.id, tickAt });
    } catch (err) {
      this.logger.error(
        { err, recurring_task_id: task.id, tick_at: new Date(tickAt).toISOString() },
        'could not enqueue a recurring task',
      );
      outcome = 'failed';
    }
    return { recurringTaskId: task.id, tickAt, taskId, outcome };
  }
}
