/**
 * Defaults of the server's services, in one dependency-free place: the services fall back on them when
 * an option is not given, and the config schema (src/config/schema.ts) shows them as its defaults. Both
 * import from here, so the two cannot drift. (The engine's defaults, src/server/engine-settings.ts, are
 * read from the config and have no other home.)
 */

/** `recurring.leader_lock.run_interval` of v1: how often a server tries to lead, and the leader renews. */
export const ELECTOR_INTERVAL_DEFAULT_MS = 1000;
/** `recurring.leader_lock.leader_lock_lease` of v1: how long an unrenewed lease lasts. */
export const LEADER_LEASE_DEFAULT_MS = 5000;
/** `charts.activity_flush_interval`: a chart's current minute lags by at most this much. */
export const ACTIVITY_FLUSH_INTERVAL_DEFAULT_MS = 10_000;

/** `recurring.timed_out_tasks_reaper.run_interval` of v1. */
export const TIMEOUT_REAPER_INTERVAL_DEFAULT_MS = 15_000;
/** `recurring.timed_out_tasks_reaper.scroll_size` of v1. */
export const TIMEOUT_REAPER_BATCH_SIZE_DEFAULT = 300;
/** `recurring.tasks_archiver.run_interval` of v1. */
export const ARCHIVER_INTERVAL_DEFAULT_MS = 60_000;
/** `recurring.tasks_archiver.archive_older_than` of v1. */
export const ARCHIVE_OLDER_THAN_DEFAULT_MS = 24 * 3600_000;
/** `recurring.tasks_archiver.delete_archived_older_than` (new; v1 kept archived tasks forever). */
export const DELETE_ARCHIVED_OLDER_THAN_DEFAULT_MS = 30 * 24 * 3600_000;
/** `recurring.recurring_tasks.sync_run_interval` of v1. */
export const RECURRING_SYNC_INTERVAL_DEFAULT_MS = 5000;
/** `recurring.tasks_archiver.scroll_size` of v1. */
export const ARCHIVER_BATCH_SIZE_DEFAULT = 300;
