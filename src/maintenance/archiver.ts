/**
 * The Archiver (leader only, spec §9.2): DONE and DEAD tasks that finished more than
 * `archive_older_than` ago move out of the live store into the archive, which frees their ids (spec
 * §7); they stay readable through `GET /tasques/archived/{queue}/{id}`. Archived tasks that finished
 * more than `delete_archived_older_than` ago are deleted (0 keeps them forever).
 *
 * Each task moves atomically in the store, so a run interrupted part-way (or two archivers running at
 * once during a leader change) never loses a task or archives it twice.
 */
import type { Clock } from '../service/clock.js';
import type { Logger } from '../service/logger.js';
import { LoopService } from '../service/start-stop.js';
import { TestSignal } from '../service/test-signal.js';
import type { Store } from '../store/store.js';

import {
  ARCHIVE_OLDER_THAN_DEFAULT_MS,
  ARCHIVER_BATCH_SIZE_DEFAULT,
  ARCHIVER_INTERVAL_DEFAULT_MS,
  DELETE_ARCHIVED_OLDER_THAN_DEFAULT_MS,
} from '../types/service-defaults.js';

export { ARCHIVE_OLDER_THAN_DEFAULT_MS, ARCHIVER_BATCH_SIZE_DEFAULT, ARCHIVER_INTERVAL_DEFAULT_MS, DELETE_ARCHIVED_OLDER_THAN_DEFAULT_MS };

export interface ArchiverConfig {
  /** Time between runs. Defaults to 1m. */
  intervalMs?: number;
  /** Finished tasks older than this are archived. Defaults to 24h. */
  archiveOlderThanMs?: number;
  /** Archived tasks that finished longer ago than this are deleted; 0 keeps them forever. Defaults to 30 days. */
  deleteArchivedOlderThanMs?: number;
  /** Tasks moved or deleted per store call. Defaults to 300. */
  batchSize?: number;
}

export interface ArchiverResult {
  archived: number;
  deleted: number;
}

export class Archiver extends LoopService<ArchiverResult> {
  readonly testSignals = { ran: new TestSignal<ArchiverResult>('archiver.ran') };
  private readonly intervalMs: number;
  private readonly archiveOlderThanMs: number;
  private readonly deleteArchivedOlderThanMs: number;
  private readonly batchSize: number;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    logger: Logger,
    config: ArchiverConfig = {},
  ) {
    super('tasks-archiver', logger);
    this.intervalMs = config.intervalMs ?? ARCHIVER_INTERVAL_DEFAULT_MS;
    this.archiveOlderThanMs = config.archiveOlderThanMs ?? ARCHIVE_OLDER_THAN_DEFAULT_MS;
    this.deleteArchivedOlderThanMs = config.deleteArchivedOlderThanMs ?? DELETE_ARCHIVED_OLDER_THAN_DEFAULT_MS;
    this.batchSize = config.batchSize ?? ARCHIVER_BATCH_SIZE_DEFAULT;
  }

  async runOnce(): Promise<ArchiverResult> {
    const now = this.clock.now();
    const result: ArchiverResult = { archived: 0, deleted: 0 };
    for (;;) {
      const { archived } = await this.store.taskArchive({
        finishedBefore: now - this.archiveOlderThanMs,
        limit: this.batchSize,
        now,
      });
      result.archived += archived;
      if (archived < this.batchSize) break;
    }
    if (this.deleteArchivedOlderThanMs > 0) {
      for (;;) {
        const { deleted } = await this.store.archivedTaskDeleteBefore({
          finishedBefore: now - this.deleteArchivedOlderThanMs,
          limit: this.batchSize,
        });
        result.deleted += deleted;
        if (deleted < this.batchSize) break;
      }
    }
    if (result.archived > 0 || result.deleted > 0) {
      this.logger.info({ archived: result.archived, deleted: result.deleted }, 'archived finished tasks');
    }
    this.testSignals.ran.signal(result);
    return result;
  }

  protected delayAfter(): number {
    return this.intervalMs;
  }
}
