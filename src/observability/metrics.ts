/**
 * The Prometheus metrics of one server (README, section Observability, lists them all).
 *
 * prom-client rather than a registry of our own: it is the reference client for Node, writes the text
 * format with correct escaping, and brings the process metrics (CPU, memory, event-loop lag, GC, handles)
 * that a home-made registry would have to re-implement. The engine does not import it: it reports state
 * changes through `EngineEvents`, which `TasquesMetrics` implements.
 *
 * Two kinds of figures:
 * - counted as things happen: state changes (engine and reaper), claim waits, HTTP requests, store calls,
 *   elections. Per process: sum them across servers in the query.
 * - read at scrape time: tasks by queue and state, oldest claimable age and paused, from
 *   `store.queueStatsList`, reused for `queue_stats_max_age` so scrapes cannot load the store; long polls
 *   waiting and leadership from this process.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineEvents, TaskChangeCause } from '../engine/task-engine.js';
import { isTasquesError } from '../errors/index.js';
import type { Clock } from '../service/clock.js';
import type { Logger } from '../service/logger.js';
import type { Store } from '../store/store.js';
import type { QueueStats, Task, TaskState } from '../types/index.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const TASK_STATES: readonly TaskState[] = ['queued', 'claimed', 'failed', 'done', 'dead'];

/** Long polls last up to `tasks.limits.max_block_for` (60 s by default): the top buckets cover them. */
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const STORE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const CLAIM_WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The `route` label of requests that matched no route (any URL: its raw path would explode cardinality). */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * The `queue` label of the queues past `metrics.max_queue_series`: their figures are summed into it. Not a
 * valid queue name (none starts with `_`), so it never mixes with a real queue.
 */
export const OTHER_QUEUES_LABEL = '_other';

/**
 * The `queue` label of each queue: its own name for the first `max` queues this server sees (by a state
 * change or in a scrape, queues in name order), OTHER_QUEUES_LABEL for every later one. Bounds the number
 * of series however many queues exist; a queue keeps its label for the life of the process.
 */
class QueueLabels {
  private readonly named = new Set<string>();

  constructor(private readonly max: number) {}

  of(queue: string): string {
    if (this.named.has(queue)) return queue;
    if (this.named.size >= this.max) return OTHER_QUEUES_LABEL;
    this.named.add(queue);
    return queue;
  }
}

/** The figures of one `queue` label: one queue's, or the sum over the queues of OTHER_QUEUES_LABEL. */
interface LabelStats {
  counts: Record<TaskState, number>;
  /** Of its queued and failed tasks, those not due yet. */
  scheduled: number;
  /** The earliest claimable run_at among its queues. */
  oldestClaimableRunAt: number | undefined;
  /** How many of its queues are paused (0 or 1 for a queue's own label). */
  paused: number;
}

/**
 * Process metrics (process_*, nodejs_*) under their standard names, so stock dashboards work. One registry
 * per process: its collectors (GC observer, event-loop monitor) are process-wide and are never removed,
 * so several servers in one process (tests) share them instead of piling them up.
 */
let processRegistry: Registry | undefined;
function defaultMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export interface MetricsOptions {
  /** Where the per-queue figures are read. */
  store: Pick<Store, 'queueStatsList'>;
  clock: Clock;
  logger: Logger;
  /** How long per-queue figures read from the store are reused (`metrics.queue_stats_max_age`). */
  queueStatsMaxAgeMs: number;
  /** Queues with their own series (`metrics.max_queue_series`); the others share OTHER_QUEUES_LABEL. */
  maxQueueSeries: number;
  version: string;
  /** Long polls in progress (the engine's `waitingClaims`). */
  waitingClaims: () => number;
}

export class TasquesMetrics implements EngineEvents {
  readonly registry = new Registry();
  private readonly created: Counter<'queue'>;
  private readonly claimedTotal: Counter<'queue'>;
  private readonly done: Counter<'queue'>;
  private readonly failed: Counter<'queue'>;
  private readonly dead: Counter<'queue'>;
  private readonly timedOut: Counter<'queue'>;
  private readonly unclaimed: Counter<'queue'>;
  private readonly retried: Counter<'queue'>;
  private readonly cancelled: Counter<'queue'>;
  private readonly throttledTotal: Counter<'queue'>;
  private readonly claimWait: Histogram<'outcome'>;
  private readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  private readonly storeDuration: Histogram<'method'>;
  private readonly storeErrors: Counter<'method' | 'code'>;
  private readonly elections: Counter;
  private readonly queueStatsErrors: Counter;
  private isLeader: () => boolean = () => false;
  private cached: { at: number; stats: Promise<Map<string, LabelStats> | undefined> } | undefined;
  private readonly queueLabels: QueueLabels;
  private scrapeStats: Promise<Map<string, LabelStats> | undefined> | undefined;

  constructor(private readonly options: MetricsOptions) {
    this.queueLabels = new QueueLabels(options.maxQueueSeries);
    const registers = [this.registry];
    const perQueue = (name: string, help: string) =>
      new Counter({ name: `tasques_tasks_${name}_total`, help, labelNames: ['queue'] as const, registers });
    this.created = perQueue('created', 'Tasks created (API, batch and recurring schedules).');
    this.claimedTotal = perQueue('claimed', 'Tasks handed out to workers by claims.');
    this.done = perQueue('done', 'Tasks that became DONE.');
    this.failed = perQueue('failed', 'Tasks that became FAILED (a failure with attempts left; timed-out claims included).');
    this.dead = perQueue('dead', 'Tasks that became DEAD (no attempts left, or cancelled by an operator).');
    this.timedOut = perQueue('timed_out', 'Claims failed by the timeout reaper (each also counted as failed or dead).');
    this.unclaimed = perQueue('unclaimed', 'Claims given back to the queue (by the worker, or for a long poll that went away).');
    this.retried = perQueue('retried', 'DEAD tasks queued again by an operator.');
    this.cancelled = perQueue('cancelled', 'Tasks cancelled by an operator: queued, claimed or failed ones (each also counted as dead).');
    // Keys (customer ids, …) are never labels: unbounded. The queue label has the usual series cap.
    this.throttledTotal = perQueue(
      'throttled',
      "Claimable tasks a claim passed over because a flow-control limit (the queue's or a key's) held them back; each poll of a long poll counts again.",
    );
    this.claimWait = new Histogram({
      name: 'tasques_claim_wait_seconds',
      help: 'Time from a claim call to its answer: tasks handed out (outcome="tasks") or none before block_for ran out (outcome="empty").',
      labelNames: ['outcome'] as const,
      buckets: CLAIM_WAIT_BUCKETS,
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'tasques_http_request_duration_seconds',
      help: 'HTTP requests by method, route template and status code (claims include their long poll).',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: HTTP_BUCKETS,
      registers,
    });
    this.storeDuration = new Histogram({
      name: 'tasques_store_call_duration_seconds',
      help: 'Store calls by method (every call, failed ones included).',
      labelNames: ['method'] as const,
      buckets: STORE_BUCKETS,
      registers,
    });
    this.storeErrors = new Counter({
      name: 'tasques_store_call_errors_total',
      help: 'Store calls that threw, by method and error code (expected ones too, e.g. TQ_ERR_TASK_VERSION_CONFLICT; "other" for failures of the store itself).',
      labelNames: ['method', 'code'] as const,
      registers,
    });
    this.elections = new Counter({
      name: 'tasques_leader_elections_total',
      help: 'Times this server was elected leader.',
      registers,
    });
    this.queueStatsErrors = new Counter({
      name: 'tasques_queue_stats_errors_total',
      help: 'Scrapes whose per-queue figures could not be read from the store (those gauges are then absent).',
      registers,
    });
    // prom-client calls collect() with `this` bound to the metric: the registry is reached through `self`.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    new Gauge({
      name: 'tasques_build_info',
      help: 'Always 1; the labels tell the version.',
      labelNames: ['version'] as const,
      registers,
    }).set({ version: options.version }, 1);
    new Gauge({
      name: 'tasques_is_leader',
      help: '1 while this server is the leader (runs the reaper, scheduler and archiver), else 0.',
      registers,
      collect() {
        this.set(self.isLeader() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'tasques_claims_waiting',
      help: 'Claims long-polling on this server now.',
      registers,
      collect() {
        this.set(self.options.waitingClaims());
      },
    });
    new Gauge({
      name: 'tasques_tasks',
      help: 'Live tasks (not archived) by queue and state, read from the store (cached for metrics.queue_stats_max_age).',
      labelNames: ['queue', 'state'] as const,
      registers,
      async collect() {
        const stats = await self.statsOfThisScrape();
        this.reset();
        for (const [queue, q] of stats ?? []) for (const state of TASK_STATES) this.set({ queue, state }, q.counts[state]);
      },
    });
    new Gauge({
      name: 'tasques_tasks_scheduled',
      help: 'Of the queued and failed tasks (in tasques_tasks), those not due yet: run_at in the future (scheduled, or waiting for a retry). Claimable = queued + failed - scheduled.',
      labelNames: ['queue'] as const,
      registers,
      async collect() {
        const stats = await self.statsOfThisScrape();
        this.reset();
        for (const [queue, q] of stats ?? []) this.set({ queue }, q.scheduled);
      },
    });
    new Gauge({
      name: 'tasques_queue_oldest_claimable_age_seconds',
      help: 'How long the oldest claimable task of the queue has waited past its run_at; 0 when nothing is claimable.',
      labelNames: ['queue'] as const,
      registers,
      async collect() {
        const stats = await self.statsOfThisScrape();
        this.reset();
        const now = self.options.clock.now();
        for (const [queue, q] of stats ?? []) {
          const runAt = q.oldestClaimableRunAt;
          this.set({ queue }, runAt === undefined ? 0 : Math.max(0, now - runAt) / 1000);
        }
      },
    });
    new Gauge({
      name: 'tasques_queue_paused',
      help: `1 while the queue is paused (hands out no claims), else 0; for queue="${OTHER_QUEUES_LABEL}", how many of those queues are paused.`,
      labelNames: ['queue'] as const,
      registers,
      async collect() {
        const stats = await self.statsOfThisScrape();
        this.reset();
        for (const [queue, q] of stats ?? []) this.set({ queue }, q.paused);
      },
    });
  }

  /** The exposition: this server's metrics, then the process metrics. */
  async render(): Promise<string> {
    // The store read first, so that its own timing (or failure) is in this scrape, not the next; the
    // gauges of this scrape share it, also when queue_stats_max_age is shorter than the scrape.
    const stats = this.queueStats();
    this.scrapeStats = stats;
    try {
      await stats;
      const [own, process] = await Promise.all([this.registry.metrics(), defaultMetrics().metrics()]);
      return own + process;
    } finally {
      if (this.scrapeStats === stats) this.scrapeStats = undefined;
    }
  }

  /** The figures of the scrape in progress (one store read per scrape), else a read within max age. */
  private statsOfThisScrape(): Promise<Map<string, LabelStats> | undefined> {
    return this.scrapeStats ?? this.queueStats();
  }

  // ── EngineEvents ─────────────────────────────────────────────────────────────────────────────────

  taskChanged(after: Task, before: Task | undefined, cause?: TaskChangeCause): void {
    const labels = { queue: this.queueLabels.of(after.queue) };
    if (cause === 'timed_out') this.timedOut.inc(labels);
    if (before === undefined) {
      this.created.inc(labels);
      return;
    }
    if (after.state === before.state) return; // a report-in, or a write that changed nothing countable
    switch (after.state) {
      case 'done':
        this.done.inc(labels);
        break;
      case 'failed':
        this.failed.inc(labels);
        break;
      case 'dead':
        this.dead.inc(labels);
        if (after.cancellation !== undefined) this.cancelled.inc(labels);
        break;
      case 'queued':
        if (before.state === 'claimed') this.unclaimed.inc(labels);
        else if (before.state === 'dead') this.retried.inc(labels);
        break;
      default:
        break;
    }
  }

  claimed(tasks: readonly Task[], waitedMs: number): void {
    this.claimWait.observe({ outcome: tasks.length > 0 ? 'tasks' : 'empty' }, Math.max(0, waitedMs) / 1000);
    if (tasks.length === 1) {
      this.claimedTotal.inc({ queue: this.queueLabels.of((tasks[0] as Task).queue) });
      return;
    }
    const perQueue = new Map<string, number>();
    for (const t of tasks) {
      const queue = this.queueLabels.of(t.queue);
      perQueue.set(queue, (perQueue.get(queue) ?? 0) + 1);
    }
    for (const [queue, n] of perQueue) this.claimedTotal.inc({ queue }, n);
  }

  throttled(queue: string, n: number): void {
    this.throttledTotal.inc({ queue: this.queueLabels.of(queue) }, n);
  }

  // ── HTTP, store, leadership ──────────────────────────────────────────────────────────────────────

  observeHttp(method: string, route: string | undefined, statusCode: number, seconds: number): void {
    this.httpDuration.observe({ method, route: route ?? UNMATCHED_ROUTE, status_code: statusCode }, seconds);
  }

  observeStoreCall(method: string, seconds: number, error: unknown): void {
    this.storeDuration.observe({ method }, seconds);
    if (error !== undefined) this.storeErrors.inc({ method, code: isTasquesError(error) ? error.code : 'other' });
  }

  /** Follows an elector: the is_leader gauge reads `isLeader`; call `elected()` on every gain. */
  followLeadership(isLeader: () => boolean): void {
    this.isLeader = isLeader;
  }

  elected(): void {
    this.elections.inc();
  }

  /**
   * Per-queue statistics, read from the store at most once per `queueStatsMaxAgeMs` (concurrent scrapes
   * share one read). A failed read is remembered as long, so a struggling store is not hit by every
   * scrape; its gauges are absent meanwhile and `tasques_queue_stats_errors_total` tells why.
   */
  private queueStats(): Promise<Map<string, LabelStats> | undefined> {
    const now = this.options.clock.now();
    if (this.cached !== undefined && now - this.cached.at < this.options.queueStatsMaxAgeMs) return this.cached.stats;
    const stats = this.options.store
      .queueStatsList({ now, recentWindowMs: 0 })
      .then((list) => this.byLabel(list))
      .catch((err: unknown) => {
        this.queueStatsErrors.inc();
        this.options.logger.warn({ err }, 'metrics: could not read the queue statistics');
        return undefined;
      });
    this.cached = { at: now, stats };
    return stats;
  }

  /** The store's per-queue figures by `queue` label: past max_queue_series, summed into OTHER_QUEUES_LABEL. */
  private byLabel(list: readonly QueueStats[]): Map<string, LabelStats> {
    const out = new Map<string, LabelStats>();
    for (const q of list) {
      const label = this.queueLabels.of(q.queue);
      let entry = out.get(label);
      if (entry === undefined) {
        entry = { counts: { queued: 0, claimed: 0, failed: 0, done: 0, dead: 0 }, scheduled: 0, oldestClaimableRunAt: undefined, paused: 0 };
        out.set(label, entry);
      }
      for (const state of TASK_STATES) entry.counts[state] += q.counts[state] ?? 0;
      entry.scheduled += q.scheduled ?? 0;
      const runAt = q.oldestClaimableRunAt;
      if (runAt !== undefined && (entry.oldestClaimableRunAt === undefined || runAt < entry.oldestClaimableRunAt)) {
        entry.oldestClaimableRunAt = runAt;
      }
      if (q.paused) entry.paused += 1;
    }
    return out;
  }
}
