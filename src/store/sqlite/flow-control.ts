/**
 * Flow control on SQLite (docs/flow-control.md; the design in docs/design/sqlite-flow-control.md): the
 * stored limits, the token buckets, and the claim of a queue that has limits or keyed tasks (a "flow
 * queue"): its tasks in fair-share order, within its limits. Queues without either never come here.
 *
 * Everything runs inside the claim's transaction, which holds SQLite's write lock (BEGIN IMMEDIATE): the
 * claimed counts and the buckets read here cannot change before the claim commits, whichever store
 * instance or process writes next, so limits are never over-granted.
 *
 * A claim first plans each flow queue's sequence (which tasks, in which order, within the limits) with
 * no write; the store merges the sequences with the other queues' candidates, keeps the first `amount`,
 * and only then `commit`s what was taken from each flow queue: tokens spent, and the fair-share cursor.
 */
import type Database from 'better-sqlite3';
import type { FlowLimit, QueueFlowStatus, QueueLimits, QueueLimitsRecord, RateLimit } from '../../types/index.js';
import type { TaskRow } from './rows.js';

export type CandidateRow = TaskRow & { row_id: number };

type FlowStatements = Record<
  | 'limitsId'
  | 'limitsGet'
  | 'limitsList'
  | 'limitsUpsert'
  | 'limitsDelete'
  | 'bucketsDelete'
  | 'inUse'
  | 'flowQueues'
  | 'keyedWaitingOf'
  | 'waitingOf'
  | 'claimedOf'
  | 'bucketGet'
  | 'bucketPut'
  | 'claimedOfKey'
  | 'firstKey'
  | 'keyAfter'
  | 'groupRows'
  | 'unkeyedRows'
  | 'dueCountUpTo'
  | 'dueByKeys',
  Database.Statement
>;

const WAITING = `state IN ('queued', 'failed')`;
const CLAIMABLE = `${WAITING} AND run_at <= ? AND attempted <= retry_times`;

function prepareFlowStatements(db: Database.Database): FlowStatements {
  return {
    limitsId: db.prepare('SELECT id FROM queue_limits WHERE queue = ?').pluck(),
    limitsGet: db.prepare('SELECT limits FROM queue_limits WHERE id = ?').pluck(),
    limitsList: db.prepare('SELECT queue, limits, modified_at FROM queue_limits ORDER BY queue'),
    // REPLACE: a new row, so a new id, which tells every store instance that the limits changed.
    limitsUpsert: db.prepare('INSERT OR REPLACE INTO queue_limits (queue, limits, modified_at) VALUES (?, ?, ?)'),
    limitsDelete: db.prepare('DELETE FROM queue_limits WHERE queue = ?'),
    bucketsDelete: db.prepare('DELETE FROM flow_buckets WHERE queue = ?'),
    // Two tiny tables: is flow control in use at all (else every claim takes the plain path)?
    inUse: db
      .prepare('SELECT EXISTS (SELECT 1 FROM queue_limits) OR EXISTS (SELECT 1 FROM queue_keyed_waiting WHERE n > 0)')
      .pluck(),
    flowQueues: db.prepare('SELECT queue FROM queue_limits UNION SELECT queue FROM queue_keyed_waiting WHERE n > 0').pluck(),
    keyedWaitingOf: db.prepare('SELECT n FROM queue_keyed_waiting WHERE queue = ?').pluck(),
    waitingOf: db.prepare(`SELECT COALESCE(SUM(n), 0) FROM queue_counts WHERE queue = ? AND state IN ('queued', 'failed')`).pluck(),
    claimedOf: db.prepare(`SELECT n FROM queue_counts WHERE queue = ? AND state = 'claimed'`).pluck(),
    bucketGet: db.prepare('SELECT tokens, updated_at FROM flow_buckets WHERE queue = ? AND kind = ? AND key = ?'),
    bucketPut: db.prepare(
      `INSERT INTO flow_buckets (queue, kind, key, tokens, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (queue, kind, key) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at`,
    ),
    claimedOfKey: db
      .prepare(
        `SELECT COUNT(*) FROM tasks INDEXED BY tasks_flow_claimed
         WHERE queue = ? AND concurrency_key = ? AND state = 'claimed' AND concurrency_key IS NOT NULL`,
      )
      .pluck(),
    // The groups in key order, one index seek each: the cost follows the keys visited, never all keys.
    firstKey: db
      .prepare(
        `SELECT concurrency_key FROM tasks INDEXED BY tasks_flow_waiting
         WHERE queue = ? AND ${WAITING} AND concurrency_key IS NOT NULL ORDER BY concurrency_key LIMIT 1`,
      )
      .pluck(),
    keyAfter: db
      .prepare(
        `SELECT concurrency_key FROM tasks INDEXED BY tasks_flow_waiting
         WHERE queue = ? AND ${WAITING} AND concurrency_key IS NOT NULL AND concurrency_key > ?
         ORDER BY concurrency_key LIMIT 1`,
      )
      .pluck(),
    groupRows: db.prepare(
      `SELECT rowid AS row_id, * FROM tasks INDEXED BY tasks_flow_waiting
       WHERE queue = ? AND concurrency_key = ? AND concurrency_key IS NOT NULL AND ${CLAIMABLE}
       ORDER BY priority DESC, run_at LIMIT ? OFFSET ?`,
    ),
    unkeyedRows: db.prepare(
      `SELECT rowid AS row_id, * FROM tasks INDEXED BY tasks_claim_order
       WHERE queue = ? AND ${CLAIMABLE} AND concurrency_key IS NULL
       ORDER BY priority DESC, run_at LIMIT ? OFFSET ?`,
    ),
    dueCountUpTo: db
      .prepare(`SELECT COUNT(*) FROM (SELECT 1 FROM tasks INDEXED BY tasks_claim_order WHERE queue = ? AND ${CLAIMABLE} LIMIT ?)`)
      .pluck(),
    // The status: claimable tasks by (concurrency key, rate key), one walk of the queue's claimable tasks.
    dueByKeys: db.prepare(
      `SELECT concurrency_key, rate_key, COUNT(*) AS n FROM tasks INDEXED BY tasks_claim_order
       WHERE queue = ? AND ${CLAIMABLE} GROUP BY concurrency_key, rate_key`,
    ),
  };
}

/** Float tolerance of token counts (refills are pro rata). */
const EPSILON = 1e-9;

/** Rows of a group read per statement: small first (most claims take one or two per group), then larger. */
const FIRST_BATCH = 4;
const NEXT_BATCH = 64;

interface Bucket {
  queue: string;
  kind: 'queue' | 'key';
  key: string;
  rate: RateLimit;
  tokens: number;
  at: number;
  /** Tokens this claim's plan took so far (not written). */
  planned: number;
}

/** One concurrency-key group (null: the tasks without a key) during the plan of a claim. */
interface Group {
  key: string | null;
  rows: CandidateRow[];
  next: number;
  offset: number;
  exhausted: boolean;
  taken: number;
  /** The key's claimed tasks before this claim, when it has a concurrency limit (read on first need). */
  claimedBefore?: number;
}

/** A flow queue's plan: its tasks in fair-share order, within its limits. */
export interface FlowPlan {
  queue: string;
  rows: CandidateRow[];
  buckets: Bucket[];
  limits: QueueLimits | undefined;
}

export class FlowControl {
  private readonly s: FlowStatements;
  /** Parsed limits by queue, with the id of the row they came from (read again only when it changed). */
  private readonly parsed = new Map<string, { id: number; limits: QueueLimits }>();
  /** Per queue, the group this store instance served last (the contract's round-robin cursor). */
  private readonly cursors = new Map<string, string | null>();

  private readonly idleBuckets: Database.Statement;
  private readonly bucketDeleteIfUnchanged: Database.Statement;

  constructor(db: Database.Database) {
    this.s = prepareFlowStatements(db);
    this.idleBuckets = db.prepare('SELECT queue, kind, key, tokens, updated_at FROM flow_buckets WHERE updated_at < ?');
    this.bucketDeleteIfUnchanged = db.prepare(
      'DELETE FROM flow_buckets WHERE queue = ? AND kind = ? AND key = ? AND tokens = ? AND updated_at = ?',
    );
  }

  /**
   * Store.queueFlowPrune (in the caller's transaction): deletes buckets last taken before `idleBefore`
   * that are full at `now`, or whose queue or key has no rate limit any more. No row is a full bucket,
   * so no limit is loosened.
   */
  prune(now: number, idleBefore: number, limit: number): number {
    let deleted = 0;
    for (const row of this.idleBuckets.all(idleBefore) as Array<{ queue: string; kind: 'queue' | 'key'; key: string; tokens: number; updated_at: number }>) {
      // all(), not iterate(): better-sqlite3 allows no write while a statement is being iterated.
      if (deleted >= limit) break;
      const limits = this.limitsOf(row.queue);
      const rate = !limits ? undefined : row.kind === 'queue' ? limits.queue?.rate : (limits.keys?.[row.key] ?? limits.perKey)?.rate;
      const full = !rate || row.tokens + (Math.max(0, now - row.updated_at) * rate.count) / rate.perMs >= rate.burst - EPSILON;
      if (full) deleted += this.bucketDeleteIfUnchanged.run(row.queue, row.kind, row.key, row.tokens, row.updated_at).changes;
    }
    return deleted;
  }

  // ── Limits ──────────────────────────────────────────────────────────────────────────────────────

  limitsOf(queue: string): QueueLimits | undefined {
    const id = this.s.limitsId.get(queue) as number | undefined;
    if (id === undefined) {
      this.parsed.delete(queue);
      return undefined;
    }
    const cached = this.parsed.get(queue);
    if (cached?.id === id) return cached.limits;
    const limits = JSON.parse(this.s.limitsGet.get(id) as string) as QueueLimits;
    this.parsed.set(queue, { id, limits });
    return limits;
  }

  /** Stores or removes a queue's limits (in the caller's transaction). Removal empties its buckets. */
  set(queue: string, limits: QueueLimits | undefined, now: number): QueueLimitsRecord | undefined {
    if (limits === undefined) {
      this.s.limitsDelete.run(queue);
      this.s.bucketsDelete.run(queue);
      return undefined;
    }
    const text = JSON.stringify(limits);
    this.s.limitsUpsert.run(queue, text, now);
    return { queue, limits: JSON.parse(text) as QueueLimits, modifiedAt: now };
  }

  list(queues: readonly string[] | undefined): QueueLimitsRecord[] {
    const rows = this.s.limitsList.all() as { queue: string; limits: string; modified_at: number }[];
    const only = queues === undefined ? undefined : new Set(queues);
    return rows
      .filter((r) => only === undefined || only.has(r.queue))
      .map((r) => ({ queue: r.queue, limits: JSON.parse(r.limits) as QueueLimits, modifiedAt: r.modified_at }));
  }

  // ── Which queues need the flow claim ────────────────────────────────────────────────────────────

  /** False when no queue has limits or waiting keyed tasks: every claim can take the plain path. */
  inUse(): boolean {
    return this.s.inUse.get() === 1;
  }

  /** The queues with limits or waiting keyed tasks. */
  flowQueues(): string[] {
    return this.s.flowQueues.all() as string[];
  }

  isFlowQueue(queue: string): boolean {
    return this.limitsOf(queue) !== undefined || this.keyedWaitingOf(queue) > 0;
  }

  private keyedWaitingOf(queue: string): number {
    return (this.s.keyedWaitingOf.get(queue) as number | undefined) ?? 0;
  }

  // ── The claim ───────────────────────────────────────────────────────────────────────────────────

  /**
   * Plans the claim of up to `amount` tasks of `queue`: one task per group in turn from after this
   * instance's cursor, each task checked against the queue's and its keys' limits. Writes nothing.
   */
  plan(queue: string, amount: number, now: number, throttled: Map<string, number> | undefined): FlowPlan {
    const limits = this.limitsOf(queue); // cached: the id lookup only
    const plan: FlowPlan = { queue, rows: [], buckets: [], limits };
    let heldBack = 0;
    let budget = amount;
    const queueLimit = limits?.queue;
    if (queueLimit?.concurrency !== undefined) {
      budget = Math.min(budget, queueLimit.concurrency - ((this.s.claimedOf.get(queue) as number | undefined) ?? 0));
    }
    let queueBucket: Bucket | undefined;
    if (queueLimit?.rate !== undefined) {
      queueBucket = this.bucket(queue, 'queue', '', queueLimit.rate, now);
      plan.buckets.push(queueBucket);
      budget = Math.min(budget, Math.floor(queueBucket.tokens + EPSILON));
    }
    if (budget <= 0) {
      // The whole queue waits on its own limit: what it would have handed out was held back.
      if (throttled) addTo(throttled, queue, this.s.dueCountUpTo.get(queue, now, amount) as number);
      return plan;
    }
    const keyBuckets = new Map<string, Bucket>();
    const take = (group: Group): CandidateRow | undefined => {
      if (group.key !== null) {
        const limit = keyLimitOf(limits, group.key)?.concurrency;
        if (limit !== undefined) {
          group.claimedBefore ??= this.s.claimedOfKey.get(queue, group.key) as number;
          if (group.claimedBefore + group.taken >= limit) {
            if (this.peek(queue, group, now, budget) !== undefined) heldBack++;
            return undefined;
          }
        }
      }
      for (;;) {
        const row = this.peek(queue, group, now, budget);
        if (row === undefined) return undefined;
        group.next++;
        const rateKey = row.rate_key;
        const rate = rateKey === null ? undefined : keyLimitOf(limits, rateKey)?.rate;
        if (rateKey !== null && rate !== undefined) {
          let bucket = keyBuckets.get(rateKey);
          if (bucket === undefined) {
            bucket = this.bucket(queue, 'key', rateKey, rate, now);
            keyBuckets.set(rateKey, bucket);
            plan.buckets.push(bucket);
          }
          if (bucket.tokens - bucket.planned < 1 - EPSILON) {
            heldBack++;
            continue; // skip to the group's next task, which may have another rate key
          }
          bucket.planned++;
        }
        group.taken++;
        return row;
      }
    };
    // The first round visits the groups in order from the cursor, discovering them one seek at a time and
    // stopping once the budget is met; later rounds go over the groups that still gave a task.
    const alive: Group[] = [];
    for (const key of this.groupOrder(queue)) {
      if (plan.rows.length >= budget) break;
      const group: Group = { key, rows: [], next: 0, offset: 0, exhausted: false, taken: 0 };
      const row = take(group);
      if (row === undefined) continue;
      plan.rows.push(row);
      alive.push(group);
    }
    while (plan.rows.length < budget && alive.length > 0) {
      for (let i = 0; i < alive.length && plan.rows.length < budget; ) {
        const row = take(alive[i]!);
        if (row === undefined) alive.splice(i, 1);
        else {
          plan.rows.push(row);
          i++;
        }
      }
    }
    if (throttled && heldBack > 0) addTo(throttled, queue, heldBack);
    return plan;
  }

  /**
   * Writes what a claim took from a planned flow queue (a prefix of its plan, in plan order): the tokens
   * spent, and the cursor (the group of the last task taken).
   */
  commit(plan: FlowPlan, taken: readonly CandidateRow[]): void {
    const last = taken[taken.length - 1];
    if (last === undefined) return;
    this.cursors.set(plan.queue, last.concurrency_key);
    for (const bucket of plan.buckets) {
      let spent = 0;
      if (bucket.kind === 'queue') spent = taken.length;
      else for (const row of taken) if (row.rate_key === bucket.key) spent++;
      // Buckets read but not spent from stay as they are: their refill is computed again next time.
      if (spent > 0) this.s.bucketPut.run(bucket.queue, bucket.kind, bucket.key, bucket.tokens - spent, bucket.at);
    }
  }

  /** The next claimable row of a group, reading the next batch of its rows when needed. */
  private peek(queue: string, group: Group, now: number, budget: number): CandidateRow | undefined {
    if (group.next < group.rows.length) return group.rows[group.next];
    if (group.exhausted) return undefined;
    const size = group.offset === 0 ? Math.min(budget, FIRST_BATCH) : NEXT_BATCH;
    const rows = (
      group.key === null
        ? this.s.unkeyedRows.all(queue, now, size, group.offset)
        : this.s.groupRows.all(queue, group.key, now, size, group.offset)
    ) as CandidateRow[];
    group.offset += rows.length;
    group.exhausted = rows.length < size;
    group.rows = rows;
    group.next = 0;
    return rows[0];
  }

  /**
   * The groups of `queue` in round-robin order: the unkeyed group first, then keys ascending, starting
   * after this instance's cursor and wrapping around once. Keys are found one index seek at a time.
   */
  private *groupOrder(queue: string): Generator<string | null> {
    const keyedWaiting = this.keyedWaitingOf(queue);
    // Without keyed tasks, the unkeyed group is the whole queue: its read finds out whether it is empty.
    const unkeyed = keyedWaiting === 0 || (this.s.waitingOf.get(queue) as number) - keyedWaiting > 0;
    const keysFrom = function* (this: FlowControl, after: string | undefined, upTo?: string): Generator<string> {
      let key = (after === undefined ? this.s.firstKey.get(queue) : this.s.keyAfter.get(queue, after)) as string | undefined;
      // Bounded by the keys of the queue: each step moves strictly forward in key order.
      while (key !== undefined && (upTo === undefined || key <= upTo)) {
        yield key;
        key = this.s.keyAfter.get(queue, key) as string | undefined;
      }
    }.bind(this);
    const cursor = this.cursors.get(queue);
    if (!this.cursors.has(queue)) {
      if (unkeyed) yield null;
      if (keyedWaiting > 0) yield* keysFrom(undefined);
    } else if (cursor === null || cursor === undefined) {
      if (keyedWaiting > 0) yield* keysFrom(undefined);
      if (unkeyed) yield null;
    } else {
      if (keyedWaiting > 0) yield* keysFrom(cursor);
      if (unkeyed) yield null;
      if (keyedWaiting > 0) yield* keysFrom(undefined, cursor);
    }
  }

  /** A bucket as it stands at `now`: refilled pro rata since it was last written, capped at its burst. */
  private bucket(queue: string, kind: 'queue' | 'key', key: string, rate: RateLimit, now: number): Bucket {
    const row = this.s.bucketGet.get(queue, kind, key) as { tokens: number; updated_at: number } | undefined;
    if (row === undefined) return { queue, kind, key, rate, tokens: rate.burst, at: now, planned: 0 };
    // A server whose clock is behind the last writer's refills nothing, and never moves the instant back.
    const elapsed = Math.max(0, now - row.updated_at);
    const tokens = Math.min(rate.burst, row.tokens + (elapsed * rate.count) / rate.perMs);
    return { queue, kind, key, rate, tokens, at: Math.max(now, row.updated_at), planned: 0 };
  }

  // ── Status ──────────────────────────────────────────────────────────────────────────────────────

  status(queue: string, now: number, limit: number): QueueFlowStatus {
    const claimed = (this.s.claimedOf.get(queue) as number | undefined) ?? 0;
    const status: QueueFlowStatus = { queue, claimed, throttledKeys: [], waitingOnLimit: 0 };
    const limits = this.limitsOf(queue);
    if (limits === undefined) return status;
    let queueHeld = limits.queue?.concurrency !== undefined && claimed >= limits.queue.concurrency;
    if (limits.queue?.rate !== undefined) {
      status.tokens = this.bucket(queue, 'queue', '', limits.queue.rate, now).tokens;
      if (status.tokens < 1 - EPSILON) queueHeld = true;
    }
    const groups = this.s.dueByKeys.all(queue, now) as { concurrency_key: string | null; rate_key: string | null; n: number }[];
    const byConcurrencyKey = new Map<string, number>();
    const byRateKey = new Map<string, number>();
    let due = 0;
    for (const g of groups) {
      due += g.n;
      if (g.concurrency_key !== null) addTo(byConcurrencyKey, g.concurrency_key, g.n);
      if (g.rate_key !== null) addTo(byRateKey, g.rate_key, g.n);
    }
    const heldByConcurrency = new Set<string>();
    const heldByRate = new Set<string>();
    const claimedOfKey = (key: string): number => this.s.claimedOfKey.get(queue, key) as number;
    for (const [key, waiting] of byConcurrencyKey) {
      const keyLimit = keyLimitOf(limits, key)?.concurrency;
      if (keyLimit === undefined) continue;
      const keyClaimed = claimedOfKey(key);
      if (keyClaimed < keyLimit) continue;
      heldByConcurrency.add(key);
      status.throttledKeys.push({ key, claimed: keyClaimed, waiting, reason: 'concurrency' });
    }
    for (const [key, waiting] of byRateKey) {
      const rate = keyLimitOf(limits, key)?.rate;
      if (rate === undefined || this.bucket(queue, 'key', key, rate, now).tokens >= 1 - EPSILON) continue;
      heldByRate.add(key);
      if (!heldByConcurrency.has(key)) status.throttledKeys.push({ key, claimed: claimedOfKey(key), waiting, reason: 'rate' });
    }
    if (queueHeld) status.waitingOnLimit = due;
    else {
      for (const g of groups) {
        const held =
          (g.concurrency_key !== null && heldByConcurrency.has(g.concurrency_key)) || (g.rate_key !== null && heldByRate.has(g.rate_key));
        if (held) status.waitingOnLimit += g.n;
      }
    }
    status.throttledKeys.sort((a, b) => b.waiting - a.waiting || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    status.throttledKeys = status.throttledKeys.slice(0, Math.max(0, limit));
    return status;
  }
}

/** A key's limit: its override when it has one (replacing the per-key limit whole), else the per-key limit. */
function keyLimitOf(limits: QueueLimits | undefined, key: string): FlowLimit | undefined {
  if (limits === undefined) return undefined;
  // Own properties only: a key named like an Object.prototype member must not find one.
  if (limits.keys !== undefined && Object.hasOwn(limits.keys, key)) return limits.keys[key];
  return limits.perKey;
}

function addTo(map: Map<string, number>, key: string, n: number): void {
  map.set(key, (map.get(key) ?? 0) + n);
}
