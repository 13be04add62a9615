/**
 * Retry backoff after a failed attempt (design §3): the exponential formula v1 intended,
 * wait = base + r^4 + rand(0..jitter-1)·(r+1) seconds with r = attempts so far − 1.
 * (v1's Go code computes `(15 + r) XOR 4` by mistake; we do not reproduce that.)
 */
export interface BackoffPolicy {
  /** Seconds added to every wait. Defaults to 15. */
  baseSeconds: number;
  /** Jitter is a uniform integer in [0, jitterSeconds) times (r + 1). Defaults to 30. */
  jitterSeconds: number;
  /** Upper bound on one wait. Defaults to 7 days. */
  maxSeconds: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseSeconds: 15, jitterSeconds: 30, maxSeconds: 7 * 24 * 3600 };

/** Milliseconds to wait before the next attempt; `attempted` includes the attempt that just failed. */
export function backoffMs(attempted: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const r = Math.max(0, attempted - 1);
  const jitter = Math.floor(random() * policy.jitterSeconds) * (r + 1);
  const seconds = Math.min(policy.baseSeconds + r ** 4 + jitter, policy.maxSeconds);
  return seconds * 1000;
}
