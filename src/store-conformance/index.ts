/**
 * The store conformance suite: one set of behavioural tests that every Store driver must pass unchanged.
 * A driver runs it from a small entry file (see test/conformance/sqlite.test.ts):
 *
 *   exerciseStore({ name: 'sqlite', makeStore: async () => new SqliteStore({ path: freshFile() }) });
 *
 * Each area lives in its own file and registers node:test `describe` blocks. The suite drives the store
 * both directly (the contract: compare-and-set, atomic claims) and through a TaskEngine with a manual
 * clock (the v1 behaviour built on the contract).
 */
import { describe } from 'node:test';
import type { StoreFactory } from '../store/store.js';
import { archiveTests } from './archive.js';
import { claimVisibilityTests } from './claim-visibility.js';
import { flowControlTests } from './flow-control.js';
import { leaderTests } from './leader.js';
import { bulkOperationTests } from './bulk-operations.js';
import { operatorDataTests } from './operator-data.js';
import { queuePauseTests } from './queue-pause.js';
import { queueSeriesTests } from './queue-series.js';
import { queueStatsTests } from './queue-stats.js';
import { recurringScheduleTests } from './recurring-schedule.js';
import { taskReapTests } from './task-reap.js';
import { cancelHistoryTests } from './task-cancel-history.js';
import { claimTests } from './task-claim.js';
import { createTests } from './task-create.js';
import { doneTests } from './task-done.js';
import { manyTests } from './task-many.js';
import { failedTests } from './task-failed.js';
import { getTests } from './task-get.js';
import { taskListTests } from './task-list.js';
import { recurringTests } from './recurring-task.js';
import { reportTests } from './task-report.js';
import { unclaimTests } from './task-unclaim.js';

export interface ConformanceOptions {
  /** Shown in test names, e.g. "sqlite". */
  name: string;
  /** A fresh, migrated, empty store per call. */
  makeStore: StoreFactory;
  /**
   * Optional: a second store on the same data as `store` (another connection or another server's view),
   * for cross-connection atomicity tests. Omit if the driver cannot share data between instances.
   */
  makePeerStore?: (store: Awaited<ReturnType<StoreFactory>>) => Promise<Awaited<ReturnType<StoreFactory>>>;
  /**
   * Optional: more than 1 lets the areas (the files of this suite) run at once; tests within an area stay
   * in order. Every test has a store of its own, so areas are independent; a driver whose stores are slow
   * to make (a search engine) gains by overlapping them. node:test starts every area of the group at once,
   * so a driver that must bound its concurrent stores does it in `makeStore`. Default 1: one area after
   * the other.
   */
  concurrency?: number;
}

export function exerciseStore(options: ConformanceOptions): void {
  const concurrency = options.concurrency ?? 1;
  if (concurrency > 1) describe(`${options.name} conformance`, { concurrency }, () => exerciseAreas(options));
  else exerciseAreas(options);
}

function exerciseAreas(options: ConformanceOptions): void {
  createTests(options);
  getTests(options);
  claimTests(options);
  claimVisibilityTests(options);
  reportTests(options);
  doneTests(options);
  manyTests(options);
  failedTests(options);
  unclaimTests(options);
  recurringTests(options);
  leaderTests(options);
  taskReapTests(options);
  cancelHistoryTests(options);
  archiveTests(options);
  recurringScheduleTests(options);
  taskListTests(options);
  queueStatsTests(options);
  queuePauseTests(options);
  flowControlTests(options);
  queueSeriesTests(options);
  operatorDataTests(options);
  bulkOperationTests(options);
}

export { ManualClock } from '../service/clock.js';
export { seedTasks, setup, withHarness, type Harness, type SetupOverrides } from './helpers.js';
