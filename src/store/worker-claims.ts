/**
 * Shared by the drivers' `workerClaimList`: from claimed tasks counted per (worker, queue), the answer
 * per worker, busiest first, cut at `limit`.
 */
import type { WorkerClaims } from '../types/index.js';
import type { WorkerClaimList } from './store.js';

/** Claimed tasks of one worker on one queue (or single tasks: `claimed` 1). */
export interface WorkerQueueClaims {
  workerId: string;
  queue: string;
  claimed: number;
  oldestClaimedAt: number;
  lastReportAt?: number | undefined;
}

export function groupWorkerClaims(groups: Iterable<WorkerQueueClaims>, limit: number, complete: boolean): WorkerClaimList {
  const byWorker = new Map<string, WorkerClaims & { queueSet: Set<string> }>();
  for (const g of groups) {
    const w = byWorker.get(g.workerId);
    if (w === undefined) {
      byWorker.set(g.workerId, {
        workerId: g.workerId,
        queues: [],
        queueSet: new Set([g.queue]),
        claimed: g.claimed,
        oldestClaimedAt: g.oldestClaimedAt,
        lastReportAt: g.lastReportAt,
      });
      continue;
    }
    w.queueSet.add(g.queue);
    w.claimed += g.claimed;
    w.oldestClaimedAt = Math.min(w.oldestClaimedAt, g.oldestClaimedAt);
    if (g.lastReportAt !== undefined && (w.lastReportAt === undefined || g.lastReportAt > w.lastReportAt)) w.lastReportAt = g.lastReportAt;
  }
  const workers = [...byWorker.values()]
    .sort((a, b) => b.claimed - a.claimed || (a.workerId < b.workerId ? -1 : a.workerId > b.workerId ? 1 : 0))
    .slice(0, Math.max(0, limit))
    .map(({ queueSet, ...w }): WorkerClaims => {
      const out: WorkerClaims = { ...w, queues: [...queueSet].sort() };
      if (out.lastReportAt === undefined) delete out.lastReportAt;
      return out;
    });
  return { workers, workerCount: byWorker.size, complete };
}
