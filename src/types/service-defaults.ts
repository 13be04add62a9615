/**
 * Defaults of the server's services, in one dependency-free place: the services fall back on them when
 * an option is not given, and the config schema (src/config/schema.ts) shows them as its defaults. Both
 * import from here, so the two cannot drift. (The maintenance and engine defaults still live in their
 * own modules and are repeated in the schema: they move here once the branches editing them land.)
 */

/** `recurring.leader_lock.run_interval` of v1: how often a server tries to lead, and the leader renews. */
export const ELECTOR_INTERVAL_DEFAULT_MS = 1000;
/** `recurring.leader_lock.leader_lock_lease` of v1: how long an unrenewed lease lasts. */
export const LEADER_LEASE_DEFAULT_MS = 5000;
/** `charts.activity_flush_interval`: a chart's current minute lags by at most this much. */
export const ACTIVITY_FLUSH_INTERVAL_DEFAULT_MS = 10_000;
