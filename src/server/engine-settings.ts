/** The engine's settings from the server configuration (`tasks.*`, v1's keys). */
import { durationMs } from '../config/load.js';
import type { ServerConfig } from '../config/schema.js';
import { parseGoDuration } from '../domain/duration.js';
import type { EngineSettings } from '../engine/task-engine.js';

/** Maps the `tasks.*` configuration onto the engine's settings. */
export function engineSettings(config: ServerConfig): EngineSettings {
  const d = config.tasks.defaults;
  const limits = config.tasks.limits;
  const backoff = config.tasks.backoff;
  return {
    defaultClaimAmount: d.claim_amount,
    defaultBlockForMs: durationMs(d.block_for),
    defaultProcessingTimeoutNs: parseGoDuration(d.worker_processing_timeout),
    defaultRetryTimes: d.retry_times,
    maxClaimAmount: limits.max_claim_amount,
    maxBlockForMs: durationMs(limits.max_block_for),
    maxAnswerBytes: limits.max_answer_bytes,
    pollMinIntervalMs: durationMs(d.block_for_retry_min_wait),
    pollDivisor: d.block_for_retry_max_retries,
    versionConflictRetries: d.version_conflict_retry_times,
    backoff: {
      baseSeconds: durationMs(backoff.base) / 1000,
      jitterSeconds: durationMs(backoff.jitter) / 1000,
      maxSeconds: durationMs(backoff.max) / 1000,
    },
    errorHistory: { keep: config.tasks.error_history.keep, maxEntryBytes: config.tasks.error_history.max_entry_bytes },
  };
}
