/**
 * Bulk operations (issue 16; docs/design/operator-api.md "Bulk operations"): retry every DEAD task of a
 * filter, cancel every waiting one, delete every finished one, without one giant transaction.
 *
 * An operation is a record in the store (Store.operation*) and is processed in steps: each step lists the
 * next STEP_SIZE tasks of its filter after its cursor (the listing's keyset order, newest first, so tasks
 * created after the start are not visited), writes each with compare-and-set on the version it listed (a
 * task changed meanwhile is skipped and counted), then saves its progress and cursor with compare-and-set
 * on the record. The server that started it drives it to the end; if that server dies, the leader's
 * OperationResumer (src/maintenance) takes over an operation whose heartbeat is older than STALE_AFTER_MS:
 * the takeover is a CAS on the record, and an owner whose progress save fails stops at once, so two
 * servers never drive one operation for more than one step. A step repeated after a takeover finds its
 * tasks already changed and counts them as skipped.
 *
 * Bounds: one running operation per queue (and one over all queues at a time when no queue is named), at
 * most MAX_RUNNING at once, checked against the recent records when one starts (best effort across
 * servers); at most MAX_OPERATION_TASKS tasks per operation. Finished records are kept for
 * FINISHED_RETENTION_MS, and at most MAX_FINISHED of them (the leader prunes the rest: pruneFinished).
 */
import { randomBytes } from 'node:crypto';
import { errors, isTasquesError } from '../errors/index.js';
import type { Clock } from '../service/clock.js';
import type { Store } from '../store/store.js';
import type { NewOperationRecord, Operation, OperationFilter, OperationKind, Task, TaskState } from '../types/index.js';

/** Tasks written per step. */
export const STEP_SIZE = 200;
/** Most tasks one operation looks at; beyond, it ends (start another for the rest). */
export const MAX_OPERATION_TASKS = 100_000;
/** Most operations running at once, over all queues. */
export const MAX_RUNNING = 4;
/** An operation whose owner made no progress for this long is taken over by the leader. */
export const STALE_AFTER_MS = 60_000;
/** Finished operation records are kept this long (then the leader deletes them)... */
export const FINISHED_RETENTION_MS = 7 * 24 * 3600_000;
/** ...and no more than this many of them, the newest. */
export const MAX_FINISHED = 1000;
/** Records deleted per pruning pass. */
const PRUNE_BATCH = 500;
/** Records looked at for the busy check and the takeover scan. */
const RECENT_SCAN = 200;

/** The states each kind acts on. */
export const KIND_STATES: Readonly<Record<OperationKind, readonly TaskState[]>> = {
  retry_dead: ['dead'],
  cancel_waiting: ['queued', 'failed'],
  delete_finished: ['done', 'dead'],
};

/** The filter's states narrowed to the kind's; a filter that leaves none is a 400. */
export function statesFor(kind: OperationKind, filter: OperationFilter): TaskState[] {
  const allowed = KIND_STATES[kind];
  if (filter.states === undefined || filter.states.length === 0) return [...allowed];
  const states = allowed.filter((s) => filter.states!.includes(s));
  if (states.length === 0) {
    throw errors.badRequest(`filter.state: ${kind} acts on ${allowed.join(', ')} tasks only; the filter selects none of them`);
  }
  return states;
}

/** What one step did to its tasks. */
export interface BulkStepResult {
  changed: number;
  skipped: number;
}

/** The engine's side of a step: applies the kind to listed tasks with compare-and-set (task-engine.ts). */
export type BulkApply = (kind: OperationKind, tasks: Task[], operationId: string) => Promise<BulkStepResult>;

export class BulkOperations {
  /** This process, as the owner of the operations it drives. */
  readonly ownerId = `server-${randomBytes(6).toString('hex')}`;
  /** Operations this process is driving now (their promises, for tests and shutdown). */
  private readonly driving = new Map<string, Promise<void>>();
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly apply: BulkApply,
    private readonly clock: Clock,
  ) {}

  /** How many tasks an operation of this kind and filter would look at now (at most MAX_OPERATION_TASKS). */
  async count(kind: OperationKind, filter: OperationFilter): Promise<number> {
    return this.store.taskCount({ ...filter, states: statesFor(kind, filter), max: MAX_OPERATION_TASKS });
  }

  /** Starts an operation: records it, then drives it in the background. Answers the new record. */
  async start(kind: OperationKind, filter: OperationFilter): Promise<Operation> {
    const states = statesFor(kind, filter);
    const recent = await this.store.operationList({ limit: RECENT_SCAN });
    const running = recent.filter((o) => o.state === 'running');
    const sameScope = running.find((o) => o.filter.queue === filter.queue);
    if (sameScope) {
      throw errors.operationBusy(
        `Operation [${sameScope.id}] is still running on ${filter.queue === undefined ? 'all queues' : `queue [${filter.queue}]`}; one at a time`,
      );
    }
    if (running.length >= MAX_RUNNING) throw errors.operationBusy(`${running.length} operations are running; at most ${MAX_RUNNING} at once`);
    const total = await this.store.taskCount({ ...filter, states, max: MAX_OPERATION_TASKS });
    const now = this.clock.now();
    const record: NewOperationRecord = {
      id: `op-${now.toString(36)}-${randomBytes(5).toString('hex')}`,
      kind,
      filter: { ...filter, states },
      state: total === 0 ? 'done' : 'running',
      total,
      processed: 0,
      changed: 0,
      skipped: 0,
      ownerId: this.ownerId,
      heartbeatAt: now,
      createdAt: now,
      modifiedAt: now,
    };
    const operation = await this.store.operationCreate({ operation: record });
    if (operation.state === 'running') this.drive(operation);
    return operation;
  }

  /**
   * Takes over running operations whose owner went quiet (the leader calls this). Returns the ids taken.
   * Safe to run on two servers at once: the takeover is a compare-and-set.
   */
  async resumeStale(): Promise<string[]> {
    const now = this.clock.now();
    const stale = (await this.store.operationList({ limit: RECENT_SCAN })).filter(
      (o) => o.state === 'running' && o.heartbeatAt <= now - STALE_AFTER_MS && !this.driving.has(o.id),
    );
    const taken: string[] = [];
    for (const o of stale) {
      const { version, ...record } = o;
      try {
        const mine = await this.store.operationUpdate({
          operation: { ...record, ownerId: this.ownerId, heartbeatAt: now, modifiedAt: now },
          expectedVersion: version,
        });
        taken.push(o.id);
        this.drive(mine);
      } catch (err) {
        if (!isTasquesError(err, 'OPERATION_VERSION_CONFLICT')) throw err;
      }
    }
    return taken;
  }

  /** Deletes finished records past their retention or beyond the newest MAX_FINISHED (the leader calls this). */
  pruneFinished(): Promise<number> {
    return this.store.operationPrune({
      finishedBefore: this.clock.now() - FINISHED_RETENTION_MS,
      keepFinished: MAX_FINISHED,
      limit: PRUNE_BATCH,
    });
  }

  get(id: string): Promise<Operation | undefined> {
    return this.store.operationGet({ id });
  }

  /** The most recent operations, newest first. */
  list(limit: number): Promise<Operation[]> {
    return this.store.operationList({ limit });
  }

  /** Resolves once every operation this process drives has stopped (done, failed, lost, or stopped). */
  async idle(): Promise<void> {
    while (this.driving.size > 0) await Promise.all([...this.driving.values()]);
  }

  /** Stops driving after the current steps (shutdown); the records stay running, for a takeover. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.idle();
  }

  /**
   * Told when driving an operation failed outside a step (its record could not be saved): the record
   * stays `running` and the leader's resumer takes it over once it goes quiet. The server logs it.
   */
  onError: (err: unknown, operationId: string) => void = () => {};

  private drive(operation: Operation): void {
    // Runs in the background: a rejection nobody awaits would end the process.
    const run = this.run(operation)
      .catch((err: unknown) => this.onError(err, operation.id))
      .finally(() => this.driving.delete(operation.id));
    this.driving.set(operation.id, run);
  }

  private async run(start: Operation): Promise<void> {
    let operation = start;
    for (let steps = 0; steps <= MAX_OPERATION_TASKS / STEP_SIZE + 1 && !this.stopped; steps++) {
      let next: NewOperationRecord;
      try {
        next = await this.step(operation);
      } catch (err) {
        const { version: _v, ...record } = operation;
        next = { ...record, state: 'failed', error: err instanceof Error ? err.message : String(err), modifiedAt: this.clock.now() };
      }
      try {
        operation = await this.store.operationUpdate({ operation: next, expectedVersion: operation.version });
      } catch (err) {
        if (isTasquesError(err, 'OPERATION_VERSION_CONFLICT')) return; // taken over: the new owner goes on
        throw err;
      }
      if (operation.state !== 'running') return;
      // Give other requests the event loop between steps.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** One step: the next page of tasks, written; returns the record with the progress (not saved yet). */
  private async step(operation: Operation): Promise<NewOperationRecord> {
    const { version: _v, ...record } = operation;
    const room = MAX_OPERATION_TASKS - operation.processed;
    const page = await this.store.taskList({ ...operation.filter, limit: Math.min(STEP_SIZE, room), after: operation.cursor });
    const result = page.tasks.length > 0 ? await this.apply(operation.kind, page.tasks, operation.id) : { changed: 0, skipped: 0 };
    const now = this.clock.now();
    const processed = operation.processed + page.tasks.length;
    const finished = page.next === undefined || processed >= MAX_OPERATION_TASKS;
    return {
      ...record,
      processed,
      changed: operation.changed + result.changed,
      skipped: operation.skipped + result.skipped,
      cursor: page.next ?? operation.cursor,
      state: finished ? 'done' : 'running',
      heartbeatAt: now,
      modifiedAt: now,
    };
  }
}
