/**
 * Wiring of leader election and the leader-only services from the configuration (`recurring.*`, v1's
 * keys): one Elector per server process, and a Maintainer that runs the claim-timeout reaper, the
 * recurring scheduler and the archiver exactly while this process leads.
 */
import { durationMs } from '../config/load.js';
import type { ServerConfig } from '../config/schema.js';
import type { EngineEvents, EngineSettings, TaskEngine } from '../engine/task-engine.js';
import { Elector } from '../leadership/elector.js';
import { Archiver } from '../maintenance/archiver.js';
import { FlowPruner } from '../maintenance/flow-pruner.js';
import { Maintainer } from '../maintenance/maintainer.js';
import { QueueDepthSampler } from '../maintenance/queue-depth-sampler.js';
import { OperationResumer } from '../maintenance/operation-resumer.js';
import { RecurringScheduler } from '../maintenance/recurring-scheduler.js';
import { TimeoutReaper } from '../maintenance/timeout-reaper.js';
import type { Clock } from '../service/clock.js';
import type { Logger } from '../service/logger.js';
import type { Store } from '../store/store.js';

export interface LeaderServices {
  elector: Elector;
  maintainer: Maintainer;
  timeoutReaper: TimeoutReaper;
  recurringScheduler: RecurringScheduler;
  archiver: Archiver;
  /** Depth samples and retention of the dashboard's queue series. */
  queueDepthSampler: QueueDepthSampler;
  operationResumer: OperationResumer;
  /** Deletes idle flow-control key state (Store.queueFlowPrune). */
  flowPruner: FlowPruner;
}

export interface LeaderServicesDeps {
  store: Store;
  engine: TaskEngine;
  settings: EngineSettings;
  clock: Clock;
  logger: Logger;
  /** Told of the claims the timeout reaper fails (metrics). */
  events?: EngineEvents | undefined;
}

export function createLeaderServices(config: ServerConfig, deps: LeaderServicesDeps): LeaderServices {
  const { store, engine, settings, clock, logger, events } = deps;
  const r = config.recurring;
  const elector = new Elector(store, clock, logger, {
    intervalMs: durationMs(r.leader_lock.run_interval),
    ttlMs: durationMs(r.leader_lock.leader_lock_lease),
  });
  const timeoutReaper = new TimeoutReaper(store, clock, logger, {
    backoff: settings.backoff,
    errorHistory: settings.errorHistory,
    intervalMs: durationMs(r.timed_out_tasks_reaper.run_interval),
    batchSize: r.timed_out_tasks_reaper.scroll_size,
    events,
    onClaimEnded: (queue) => engine.claimEnded(queue),
  });
  const recurringScheduler = new RecurringScheduler(store, engine, clock, logger, {
    syncIntervalMs: durationMs(r.recurring_tasks.sync_run_interval),
  });
  const archiver = new Archiver(store, clock, logger, {
    intervalMs: durationMs(r.tasks_archiver.run_interval),
    archiveOlderThanMs: durationMs(r.tasks_archiver.archive_older_than),
    deleteArchivedOlderThanMs: durationMs(r.tasks_archiver.delete_archived_older_than),
    batchSize: r.tasks_archiver.scroll_size,
  });
  const queueDepthSampler = new QueueDepthSampler(store, clock, logger, {
    intervalMs: durationMs(config.charts.depth_sample_interval),
  });
  const operationResumer = new OperationResumer(engine, logger);
  const flowPruner = new FlowPruner(store, clock, logger);
  const maintainer = new Maintainer([timeoutReaper, recurringScheduler, archiver, queueDepthSampler, operationResumer, flowPruner], logger);
  maintainer.followLeadership(elector);
  return { elector, maintainer, timeoutReaper, recurringScheduler, archiver, queueDepthSampler, operationResumer, flowPruner };
}
