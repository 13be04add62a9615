/**
 * The claim path of a flow-controlled queue (limits, or tasks with concurrency keys) on the
 * Elasticsearch/OpenSearch store: which tasks a claim may take, in fair order, and the holds and tokens
 * it takes for them before it writes them CLAIMED (docs/design/elasticsearch-claims.md, "Flow control").
 *
 * 1. Groups: a composite aggregation on `concurrency_key` (the unkeyed group first, then keys in byte
 *    order) over the queue's claimable tasks, starting after the group this store instance served last
 *    and wrapping around, with each group's best tasks (top_hits, claim order). Only keys with claimable
 *    tasks are buckets: idle keys cost nothing. Merged with this process's own waiting writes.
 * 2. Limits: one realtime `_mget` of the limit documents the candidates need (the queue's, their keys',
 *    their rate keys'); then a round-robin over the groups takes tasks while every limit has room.
 * 3. One set of compare-and-set writes of those documents (a bulk); a task counts as granted only if
 *    every document it needed was written. Conflicts (another claimer wrote first) re-plan, a few times.
 */
import { CLAIM_ORDER_ES_SORT } from '../../domain/claim-order.js';
import type { QueueLimits, RateLimit, RecordVersion } from '../../types/index.js';
import type { TaskDoc } from './documents.js';
import {
  type FlowControl,
  type Hold,
  type HoldRelease,
  type LimitDoc,
  type MetaRead,
  type MetaWrite,
  type PendingRelease,
  emptyLimitDoc,
  flowDocId,
  keyLimit,
  rateOf,
  tokensAt,
} from './flow-control.js';
import type { EsHttp } from './http.js';
import type { IndexNames } from './mappings.js';
import { type Hit, byBytes, search, versionOf } from './requests.js';

/** A task a claim may take (as in claims.ts). */
export interface FlowCandidate {
  index: string;
  docId: string;
  doc: TaskDoc;
  version: RecordVersion;
  /** The limit documents this candidate holds a slot in (to free them if it is not claimed after all). */
  holdDocs?: string[];
  /** The token of the claim that took those holds, when not the claim handing it out (held ahead). */
  holdToken?: string;
  /** Its place in the order the claim hands tasks out (flow: the fair order). */
  rank?: number;
}

/** A group's key: a concurrency key, or null for the tasks without one. */
type GroupKey = string | null;

interface Group {
  key: GroupKey;
  tasks: FlowCandidate[];
}

/** Plans after conflicts on limit documents (other claimers wrote them first). */
const PLAN_ATTEMPTS = 8;
/** Most task documents one group search returns (groups × tasks per group). */
const MAX_GROUP_DOCS = 2000;
const MAX_GROUP_PAGES = 5;

/**
 * Tokens leased ahead: a claim that takes tokens from a bucket takes up to `rate × TOKEN_LEASE_MS` more
 * (at most TOKEN_LEASE_MAX, a quarter of the burst) into this process's stash, and the next claims spend
 * the stash without writing the bucket. Leased tokens leave the bucket when they are taken, so the
 * limit is never exceeded across servers; those not spent within TOKEN_LEASE_TTL_MS, or when the limit
 * changes, are dropped (a rate may under-grant by one lease per server and second, never over-grant).
 * The lease is sized by 100 ms of the rate but kept for a second, so a key claimed ten times a second
 * writes its bucket about once a second, not at every claim. Rates that would lease fewer than 2 tokens
 * lease none: they stay exact.
 */
const TOKEN_LEASE_MS = 100;
const TOKEN_LEASE_TTL_MS = 1000;
const TOKEN_LEASE_MAX = 256;

/**
 * Holds taken one claim ahead: a claim that writes limit documents with room to spare also takes slots
 * (and tokens) for up to as many candidates again, the next ones in fair order, in the same write. The
 * next claim of this process that finds them unchanged hands them out without writing a limit document
 * (no round trip before its task write). Only where at most AHEAD_SHARE of a limit is then held (by the
 * holds as read, ahead ones included) and a bucket keeps a quarter of its burst: they can hold another
 * server back only if the rest of the limit fills within AHEAD_TTL_MS. Unused for that long (the bound
 * a change of limits has anyway), or when the limits change, they are given back.
 */
const AHEAD_SHARE = 0.25;
const AHEAD_TTL_MS = 100;

interface AheadHold {
  candidate: FlowCandidate;
  token: string;
  /** The limits it was held under (JSON): used only while they stay the same. */
  limits: string;
  until: number;
}

interface TokenStash {
  tokens: number;
  rate: RateLimit;
  until: number;
}

export function tokenLeaseSize(rate: RateLimit): number {
  const n = Math.min(TOKEN_LEASE_MAX, Math.floor((rate.count * TOKEN_LEASE_MS) / rate.perMs), Math.floor(rate.burst / 4));
  return n >= 2 ? n : 0;
}

const sameRate = (a: RateLimit, b: RateLimit) => a.count === b.count && a.perMs === b.perMs && a.burst === b.burst;

const compareKeys = (a: GroupKey, b: GroupKey): number =>
  a === b ? 0 : a === null ? -1 : b === null ? 1 : byBytes(a, b);

export interface FlowPlanInput {
  queue: string;
  limits: QueueLimits | undefined;
  wanted: number;
  maxNow: number;
  /** This process's waiting writes of the queue (candidates the search leaves out). */
  local: FlowCandidate[];
  token: string;
  /** Claimable tasks passed over because of a limit, added to by the plan. */
  onThrottled(count: number): void;
}

export class FlowClaimPlanner {
  /** Per queue, the group this store instance served last (fairness cursor; undefined: none yet). */
  private readonly cursors = new Map<string, GroupKey>();
  /** Leased tokens per limit document (TOKEN_LEASE_TTL_MS); only touched inside FlowControl.serial. */
  private readonly stash = new Map<string, TokenStash>();
  /** Holds taken ahead, per queue and task document (AHEAD_TTL_MS). */
  private readonly ahead = new Map<string, Map<string, AheadHold>>();
  private aheadTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly http: EsHttp,
    private readonly names: IndexNames,
    private readonly flow: FlowControl,
    private readonly mustNot: () => Record<string, unknown>[],
  ) {}

  /** Candidates the claim may write CLAIMED, in fair order; holds and tokens are already taken for them. */
  async plan(input: FlowPlanInput): Promise<FlowCandidate[]> {
    const granted: FlowCandidate[] = [];
    const taken = new Set<string>();
    let wanted = input.wanted;
    let known: Group[] | undefined;
    for (let attempt = 0; attempt < PLAN_ATTEMPTS && wanted > 0; attempt++) {
      // After a conflict on a limit document the groups found before are still the candidates (a task
      // another claimer took since only fails its own CAS): no second group search, just the new order.
      const groups = known ?? (await this.groups(input, wanted, taken));
      if (groups.length === 0) break;
      const result = input.limits ? await this.acquireInTurn(input, groups, wanted) : { picks: roundRobin(groups, wanted, () => true), conflicts: false };
      for (const c of result.picks) taken.add(c.docId);
      granted.push(...result.picks);
      wanted -= result.picks.length;
      const last = result.picks[result.picks.length - 1];
      if (last) this.cursors.set(input.queue, last.doc.concurrency_key ?? null);
      if (!result.conflicts) break;
      known = inServiceOrder(
        groups.map((g) => ({ key: g.key, tasks: g.tasks.filter((c) => !taken.has(c.docId)) })).filter((g) => g.tasks.length > 0),
        this.cursors.get(input.queue),
      );
      if (known.length === 0) known = undefined;
    }
    return granted;
  }

  /** The queue's claimable tasks by group, in service order (after the cursor, then wrapping around). */
  private async groups(input: FlowPlanInput, wanted: number, exclude: Set<string>): Promise<Group[]> {
    const cursor = this.cursors.get(input.queue);
    const needGroups = Math.max(wanted * 2, wanted + 8);
    const perGroup = Math.min(wanted, 100);
    const pageSize = Math.max(1, Math.min(needGroups, Math.floor(MAX_GROUP_DOCS / perGroup)));
    const byKey = new Map<GroupKey, FlowCandidate[]>();
    const fetchPhase = async (after: { k: GroupKey } | undefined, stopAfter: GroupKey | undefined): Promise<void> => {
      let next = after;
      for (let page = 0; page < MAX_GROUP_PAGES && byKey.size < needGroups; page++) {
        const found = await search<never>(this.http, this.names.tasks, {
          size: 0,
          track_total_hits: false,
          query: {
            bool: {
              filter: [
                { terms: { state: ['queued', 'failed'] } },
                { range: { run_at: { lte: input.maxNow } } },
                { range: { remaining_attempts: { gt: 0 } } },
                { term: { queue: input.queue } },
              ],
              must_not: this.mustNot(),
            },
          },
          aggs: {
            groups: {
              composite: {
                size: pageSize,
                sources: [{ k: { terms: { field: 'concurrency_key', missing_bucket: true, order: 'asc' } } }],
                ...(next ? { after: next } : {}),
              },
              aggs: { top: { top_hits: { size: perGroup, sort: CLAIM_ORDER_ES_SORT, seq_no_primary_term: true } } },
            },
          },
        });
        const agg = found.aggregations?.groups as
          | { buckets: { key: { k: GroupKey }; top: { hits: { hits: Hit<TaskDoc>[] } } }[]; after_key?: { k: GroupKey } }
          | undefined;
        const buckets = agg?.buckets ?? [];
        for (const b of buckets) {
          if (stopAfter !== undefined && compareKeys(b.key.k, stopAfter) > 0) return;
          const tasks = b.top.hits.hits
            .filter((h) => !exclude.has(h._id))
            .map((h) => ({ index: h._index, docId: h._id, doc: h._source, version: versionOf(h) }));
          if (tasks.length > 0) byKey.set(b.key.k, tasks);
        }
        if (buckets.length < pageSize || !agg?.after_key) return;
        next = agg.after_key;
      }
    };
    await fetchPhase(cursor === undefined ? undefined : { k: cursor }, undefined);
    if (cursor !== undefined && byKey.size < needGroups) await fetchPhase(undefined, cursor);
    for (const c of input.local) {
      if (exclude.has(c.docId)) continue;
      const key = c.doc.concurrency_key ?? null;
      byKey.set(key, [...(byKey.get(key) ?? []), c]);
    }
    return inServiceOrder(
      [...byKey.entries()].map(([key, tasks]) => ({ key, tasks: tasks.sort((a, b) => docOrder(a.doc, b.doc)) })),
      cursor,
    );
  }

  /**
   * acquire() for the first `wanted` groups only (those a claim takes from when no limit holds one back:
   * their documents are all it reads) and as many after them (for holds taken ahead), then, if a limit
   * held some back, for the groups after those and what is left of the first ones, in that (round-robin)
   * order.
   */
  private async acquireInTurn(input: FlowPlanInput, groups: Group[], wanted: number): Promise<{ picks: FlowCandidate[]; conflicts: boolean }> {
    const span = 2 * wanted;
    const first = await this.flow.serial(() => this.acquire(input, groups.slice(0, span), wanted));
    if (first.conflicts || first.picks.length >= wanted || groups.length <= span) return first;
    const picked = new Set(first.picks.map((c) => c.docId));
    const rest = [
      ...groups.slice(span),
      ...groups.slice(0, span).map((g) => ({ key: g.key, tasks: g.tasks.filter((c) => !picked.has(c.docId)) })),
    ].filter((g) => g.tasks.length > 0);
    const more = await this.flow.serial(() => this.acquire(input, rest, wanted - first.picks.length));
    return { picks: [...first.picks, ...more.picks], conflicts: more.conflicts };
  }

  /**
   * Reads the limit documents, picks in round-robin while they have room, and writes them (CAS). Runs
   * in FlowControl.serial: reads may come from the process's cache (a stale one fails its CAS).
   */
  private async acquire(
    input: FlowPlanInput,
    groups: Group[],
    wanted: number,
    aheadCount = wanted,
  ): Promise<{ picks: FlowCandidate[]; conflicts: boolean }> {
    const limits = input.limits!;
    const { queue } = input;
    // Limit document id → the key it counts (undefined: the queue's own).
    const docKeys = new Map<string, string | undefined>();
    if (limits.queue?.concurrency !== undefined || limits.queue?.rate) docKeys.set(flowDocId(queue), undefined);
    for (const g of groups) {
      if (g.key !== null && keyLimit(limits, g.key)?.concurrency !== undefined) docKeys.set(flowDocId(queue, g.key), g.key);
      for (const t of g.tasks) {
        const rk = t.doc.rate_key;
        if (rk !== undefined && keyLimit(limits, rk)?.rate) docKeys.set(flowDocId(queue, rk), rk);
      }
    }
    const limitsJson = JSON.stringify(limits);
    const preHeld = this.takeAhead(queue, groups, limitsJson);
    // Releases of this process not written yet for these documents ride along in this claim's write of
    // them; those it does not write go back to wait for the next write or the flush.
    const ids = [...docKeys.keys()];
    const taken = this.flow.takeReleases(ids);
    const absorbed = new Map<string, HoldRelease[]>();
    for (const { release: r } of taken) absorbed.set(r.holdDocId, [...(absorbed.get(r.holdDocId) ?? []), r]);
    // A key's document this process has not seen is taken as missing (most keys are new, or were deleted).
    const isKeyDoc = (id: string) => docKeys.get(id) !== undefined;
    const reads = new Map<string, MetaRead<LimitDoc>>();
    const written = new Set<string>();
    const handedOut = new Set<string>();
    try {
      for (const r of await this.flow.readMeta<LimitDoc>(ids, false, isKeyDoc)) reads.set(r.id, r);
      return await this.plannedWrites(input, groups, wanted, { docKeys, reads, absorbed, written, preHeld, handedOut, limitsJson, aheadCount });
    } finally {
      // Done: written, or nothing of theirs in the document (already gone). Others wait for the next write.
      const pending = ({ release: r }: PendingRelease) =>
        !written.has(r.holdDocId) && (reads.get(r.holdDocId)?.doc?.holds ?? []).some((h) => r.match(h));
      this.flow.returnReleases(taken.filter(pending));
      this.keepAhead(queue, [...preHeld.values()].filter((a) => !handedOut.has(a.candidate.docId)));
    }
  }

  /** acquire(), once the limit documents are read: simulate, repair full holds, write (CAS). */
  private async plannedWrites(
    input: FlowPlanInput,
    groups: Group[],
    wanted: number,
    docs: {
      docKeys: Map<string, string | undefined>;
      reads: Map<string, MetaRead<LimitDoc>>;
      absorbed: Map<string, HoldRelease[]>;
      /** Filled with the documents written (so their absorbed releases are done). */
      written: Set<string>;
      /** Candidates this process holds slots for already (taken ahead), by task document. */
      preHeld: Map<string, AheadHold>;
      /** Filled with the pre-held candidates handed out. */
      handedOut: Set<string>;
      limitsJson: string;
      /** How many holds to take ahead (0: none). */
      aheadCount: number;
    },
  ): Promise<{ picks: FlowCandidate[]; conflicts: boolean }> {
    const limits = input.limits!;
    const { queue, maxNow: now } = input;
    const queueConcurrency = limits.queue?.concurrency;
    const queueRate = limits.queue?.rate;
    const queueDoc = flowDocId(queue);
    const { docKeys, reads, absorbed, written, preHeld, handedOut } = docs;
    const released = (id: string, h: Hold) => absorbed.get(id)?.some((m) => m.match(h)) ?? false;
    const liveHolds = (id: string): Hold[] => (reads.get(id)?.doc?.holds ?? []).filter((h) => !released(id, h));

    const simulate = () => {
      const held = new Map<string, number>([...reads.keys()].map((id) => [id, liveHolds(id).length]));
      const tokens = new Map<string, number>();
      const tookFrom = new Set<string>();
      // Tokens from this process's stash are spent first; only what it lacks is taken from the bucket.
      const stashLeft = new Map<string, number>();
      const available = (id: string, rate: RateLimit): number => {
        if (!stashLeft.has(id)) stashLeft.set(id, this.stashed(id, rate, now));
        if (!tokens.has(id)) tokens.set(id, tokensAt(rate, reads.get(id)?.doc?.bucket, now));
        return stashLeft.get(id)! + tokens.get(id)!;
      };
      const spend = (id: string) => {
        if (stashLeft.get(id)! >= 1) {
          stashLeft.set(id, stashLeft.get(id)! - 1);
        } else {
          tokens.set(id, tokens.get(id)! - 1);
          tookFrom.add(id);
        }
      };
      const full = new Set<string>();
      let throttled = 0;
      let queueBlocked = false;
      /**
       * Whether candidate `c` may take a slot (and its tokens) of every limit it counts against, with at
       * most `share` of each concurrency limit then held and `reserve(rate)` tokens left in each bucket.
       * Claims admit up to the limits; holds taken ahead only with room to spare (a held-back candidate is
       * then not a reason to note a document full, nor to skip to its group's next task).
       */
      const admitWithin = (share: number, reserve: (rate: RateLimit) => number, forClaim: boolean) =>
        (c: FlowCandidate, group: Group): ReturnType<Admit> => {
          const room = (id: string, limit: number) => held.get(id)! + 1 <= limit * share;
          const tokensFor = (id: string, rate: RateLimit) => available(id, rate) >= 1 + reserve(rate);
          const needs: string[] = [];
          if (queueConcurrency !== undefined) {
            if (!room(queueDoc, queueConcurrency)) {
              if (forClaim) full.add(queueDoc);
              queueBlocked ||= forClaim;
              return 'stop';
            }
            needs.push(queueDoc);
          }
          if (queueRate && !tokensFor(queueDoc, queueRate)) {
            queueBlocked ||= forClaim;
            return 'stop';
          }
          if (group.key !== null) {
            const limit = keyLimit(limits, group.key)?.concurrency;
            if (limit !== undefined) {
              const id = flowDocId(queue, group.key);
              if (!room(id, limit)) {
                if (forClaim) full.add(id);
                return 'drop';
              }
              needs.push(id);
            }
          }
          const rk = c.doc.rate_key;
          const keyRate = rk !== undefined ? keyLimit(limits, rk)?.rate : undefined;
          if (keyRate) {
            const id = flowDocId(queue, rk);
            if (!tokensFor(id, keyRate)) return forClaim ? 'skip' : 'drop';
            spend(id);
          }
          if (queueRate) spend(queueDoc);
          for (const id of needs) held.set(id, held.get(id)! + 1);
          c.holdDocs = needs;
          return true;
        };
      const admitForClaim = admitWithin(1, () => 0, true);
      const picks = roundRobin(groups, wanted, (c, group) => {
        const pre = preHeld.get(c.docId);
        if (pre) {
          // Its slots and tokens were taken by an earlier claim's write, and are still in the documents.
          c.holdDocs = pre.candidate.holdDocs ?? [];
          c.holdToken = pre.token;
          return true;
        }
        return queueBlocked ? 'stop' : admitForClaim(c, group);
      }, (passedOver) => {
        throttled += passedOver;
      });
      // Holds taken ahead, for the next claim: only where limits keep plenty of room (never a reason to
      // pass a task over: not counted as throttled).
      const ahead: FlowCandidate[] = [];
      if (!queueBlocked && full.size === 0 && picks.length >= wanted && docs.aheadCount > 0) {
        const rest = nextInTurn(groups, picks, (c) => preHeld.has(c.docId));
        ahead.push(...roundRobin(rest, docs.aheadCount, admitWithin(AHEAD_SHARE, (rate) => rate.burst / 4, false)));
      }
      return { picks, ahead, tokens, tookFrom, stashLeft, full, throttled };
    };

    let plan = simulate();
    // A full limit document read from the cache may be stale (another process freed slots since): read it.
    if (plan.full.size > 0) {
      for (const r of await this.flow.readMeta<LimitDoc>([...plan.full], true)) reads.set(r.id, r);
      plan = simulate();
    }
    // A full limit document may hold stale holds (a crash between hold and claim, a missed release).
    if (plan.full.size > 0) {
      let repaired = false;
      for (const id of plan.full) {
        const before = reads.get(id)!;
        const { read: after, fenced } = await this.flow.repair(before, this.names.tasks, now);
        if (after && after !== before) {
          reads.set(id, after);
          repaired = true;
        }
        // A fenced task was re-written: a candidate of it must compare-and-set on the new version.
        for (const g of groups) for (const c of g.tasks) c.version = fenced.get(c.docId) ?? c.version;
      }
      if (repaired) plan = simulate();
    }
    input.onThrottled(plan.throttled);

    for (const c of plan.picks) if (preHeld.has(c.docId)) handedOut.add(c.docId);
    // The writes: each limit document with its new holds and its bucket's tokens at `now`, in one write.
    const newHolds = new Map<string, Hold[]>();
    const fresh = plan.picks.filter((c) => !preHeld.has(c.docId));
    if (fresh.length === 0 && plan.ahead.length === 0) return { picks: plan.picks, conflicts: false }; // nothing to write
    if (fresh.length === 0 && wanted > 0) {
      // Every pick was held ahead: handed out at once, with no write before their task writes; the holds
      // for the claim after are taken in the background (after this section, in `serial`).
      const rest = nextInTurn(groups, plan.picks, () => false);
      void this.flow.serial(() => this.acquire(input, rest, 0, docs.aheadCount)).catch(() => undefined);
      return { picks: plan.picks, conflicts: false };
    }
    for (const c of [...fresh, ...plan.ahead]) {
      for (const id of c.holdDocs ?? []) {
        const hold: Hold = { id: c.docId, seq: c.version.seqNum, term: c.version.primaryTerm, token: input.token, at: now };
        newHolds.set(id, [...(newHolds.get(id) ?? []), hold]);
      }
    }
    const writes: MetaWrite[] = [];
    const leases = new Map<string, { tokens: number; rate: RateLimit }>();
    for (const [id, read] of reads) {
      const adds = newHolds.get(id) ?? [];
      const kept = liveHolds(id);
      const holdsChanged = adds.length > 0 || kept.length !== (read.doc?.holds.length ?? 0);
      const rate = plan.tookFrom.has(id) ? rateOf(limits, docKeys.get(id)) : undefined;
      if (!holdsChanged && !rate) continue; // unchanged
      const doc: LimitDoc = { ...(read.doc ?? emptyLimitDoc(queue, docKeys.get(id))), holds: [...kept, ...adds] };
      if (rate) {
        const lease = Math.min(tokenLeaseSize(rate), Math.floor(plan.tokens.get(id)!));
        if (lease > 0) leases.set(id, { tokens: lease, rate });
        // `at` never goes back: a claimer with a clock behind the last writer's refills nothing.
        doc.bucket = { tokens: plan.tokens.get(id)! - lease, at: Math.max(now, read.doc?.bucket?.at ?? now) };
      }
      writes.push({ id, doc, version: read.version });
    }
    // Stashed tokens this plan used are spent whatever the writes do (never handed out twice): the stash
    // keeps what the plan left of it (`stashed` read it in this same serial section).
    for (const [id, left] of plan.stashLeft) {
      const stashed = this.stash.get(id);
      if (stashed) stashed.tokens = left;
    }
    if (writes.length === 0) return { picks: plan.picks, conflicts: false };
    const items = await this.flow.writeMeta(writes);
    const failed = new Set(items.flatMap((item, i) => (item.status === 200 || item.status === 201 ? [] : [writes[i]!.id])));
    for (const w of writes) if (!failed.has(w.id)) written.add(w.id);
    for (const [id, lease] of leases) {
      if (!failed.has(id)) this.stash.set(id, { tokens: lease.tokens, rate: lease.rate, until: now + TOKEN_LEASE_TTL_MS });
    }
    if (this.stash.size > 4096) for (const [id, stashed] of this.stash) if (stashed.until < now) this.stash.delete(id);
    // A pick (or an ahead hold) stands only if every document it needed was written; free the holds of the others.
    const needsOf = (c: FlowCandidate) =>
      preHeld.has(c.docId)
        ? []
        : [
            ...(c.holdDocs ?? []),
            ...(queueRate ? [queueDoc] : []),
            ...(c.doc.rate_key !== undefined && keyLimit(limits, c.doc.rate_key)?.rate ? [flowDocId(queue, c.doc.rate_key)] : []),
          ];
    const stands = (c: FlowCandidate) => needsOf(c).every((id) => !failed.has(id));
    const releases: HoldRelease[] = [];
    const until = performance.now() + AHEAD_TTL_MS;
    const keep: AheadHold[] = [];
    for (const c of plan.ahead) {
      if (stands(c)) keep.push({ candidate: c, token: input.token, limits: docs.limitsJson, until });
      else for (const id of c.holdDocs ?? []) if (!failed.has(id)) releases.push(holdReleaseOf(id, c, input.token));
    }
    this.keepAhead(queue, keep);
    if (failed.size === 0) return { picks: plan.picks, conflicts: false };
    const picks: FlowCandidate[] = [];
    for (const c of plan.picks) {
      if (stands(c)) picks.push(c);
      else for (const id of c.holdDocs ?? []) if (!failed.has(id)) releases.push(holdReleaseOf(id, c, input.token));
    }
    await this.flow.releaseNow(releases);
    return { picks, conflicts: true };
  }

  /**
   * The holds taken ahead for candidates of `groups` that are still what they were (same version, same
   * limits, not expired), taken out of the pool: the claim hands them out, or gives them back (keepAhead).
   */
  private takeAhead(queue: string, groups: Group[], limits: string): Map<string, AheadHold> {
    const found = new Map<string, AheadHold>();
    const pool = this.ahead.get(queue);
    if (!pool) return found;
    const now = performance.now();
    for (const g of groups) {
      for (const c of g.tasks) {
        const a = pool.get(c.docId);
        if (!a || a.until < now || a.limits !== limits) continue;
        if (a.candidate.version.seqNum !== c.version.seqNum || a.candidate.version.primaryTerm !== c.version.primaryTerm) continue;
        pool.delete(c.docId);
        found.set(c.docId, a);
      }
    }
    return found;
  }

  /** Puts holds taken ahead into the pool (until they expire: then they are given back). */
  private keepAhead(queue: string, holds: AheadHold[]): void {
    if (holds.length === 0) return;
    const pool = this.ahead.get(queue) ?? new Map<string, AheadHold>();
    this.ahead.set(queue, pool);
    for (const a of holds) pool.set(a.candidate.docId, a);
    this.scheduleAheadExpiry();
  }

  private scheduleAheadExpiry(): void {
    if (this.aheadTimer) return;
    this.aheadTimer = setTimeout(() => {
      this.aheadTimer = undefined;
      this.releaseAhead(performance.now());
      if ([...this.ahead.values()].some((pool) => pool.size > 0)) this.scheduleAheadExpiry();
    }, AHEAD_TTL_MS);
    this.aheadTimer.unref();
  }

  /** Gives back every hold taken ahead, once the limit writes under way are done (closing). */
  async close(): Promise<void> {
    await this.flow.serial(async () => undefined);
    if (this.aheadTimer) clearTimeout(this.aheadTimer);
    this.aheadTimer = undefined;
    this.releaseAhead();
  }

  /** Gives back the holds taken ahead that expired by `now` (every one with Infinity: closing). */
  releaseAhead(now = Infinity): void {
    const releases: HoldRelease[] = [];
    for (const [queue, pool] of this.ahead) {
      for (const [docId, a] of pool) {
        if (a.until >= now) continue;
        pool.delete(docId);
        for (const id of a.candidate.holdDocs ?? []) releases.push(holdReleaseOf(id, a.candidate, a.token));
      }
      if (pool.size === 0) this.ahead.delete(queue);
    }
    this.flow.release(releases);
  }

  /** The tokens of bucket `id` in this process's stash at `now`, if leased under the same rate. */
  private stashed(id: string, rate: RateLimit, now: number): number {
    const stashed = this.stash.get(id);
    if (!stashed) return 0;
    if (stashed.tokens < 1 || stashed.until < now || !sameRate(stashed.rate, rate)) {
      this.stash.delete(id);
      return 0;
    }
    return stashed.tokens;
  }
}

/** Frees the hold that candidate `c` was given by the claim with `token`. */
export function holdReleaseOf(holdDocId: string, c: FlowCandidate, token: string): HoldRelease {
  const holder = c.holdToken ?? token;
  return { holdDocId, match: (h) => h.id === c.docId && h.token === holder };
}

/**
 * The candidates left after `picks` (and those `excluded`), in the order the next claim serves their
 * groups: after the group of the last pick (where the cursor will be), then wrapping to the start. Holds
 * taken ahead follow it, so the next claim finds them first.
 */
function nextInTurn(groups: Group[], picks: FlowCandidate[], excluded: (c: FlowCandidate) => boolean): Group[] {
  const last = picks[picks.length - 1];
  const at = last ? groups.findIndex((g) => g.tasks.includes(last)) : -1;
  const ordered = at < 0 ? groups : [...groups.slice(at + 1), ...groups.slice(0, at + 1)];
  const picked = new Set(picks);
  return ordered
    .map((g) => ({ key: g.key, tasks: g.tasks.filter((c) => !picked.has(c) && !excluded(c)) }))
    .filter((g) => g.tasks.length > 0);
}

/** Groups in the order a claim serves them: keys after the cursor first, then from the start (wrapping). */
function inServiceOrder(groups: Group[], cursor: GroupKey | undefined): Group[] {
  const rank = (k: GroupKey) => (cursor === undefined || compareKeys(k, cursor) > 0 ? 0 : 1);
  return groups.sort((a, b) => rank(a.key) - rank(b.key) || compareKeys(a.key, b.key));
}

const docOrder = (a: TaskDoc, b: TaskDoc): number =>
  b.priority - a.priority || a.run_at - b.run_at || b.remaining_attempts - a.remaining_attempts;

/**
 * Takes one task from each group in turn, in the groups' order, until `wanted` are taken or no group
 * has any left. `admit` says whether a candidate may be taken: true, 'skip' (not this task: the group's
 * next one is tried in the same turn), 'drop' (its group is held back: skip the group from now on) or
 * 'stop' (nothing more may be taken).
 */
/** roundRobin's verdict on a candidate (below). */
type Admit = (c: FlowCandidate, group: Group) => boolean | 'skip' | 'drop' | 'stop';

function roundRobin(
  groups: Group[],
  wanted: number,
  admit: Admit,
  onPassedOver: (count: number) => void = () => {},
): FlowCandidate[] {
  const picks: FlowCandidate[] = [];
  const next = groups.map(() => 0);
  let active = groups.map((_, i) => i);
  while (picks.length < wanted && active.length > 0) {
    const still: number[] = [];
    for (const i of active) {
      if (picks.length >= wanted) {
        still.push(i);
        continue;
      }
      const group = groups[i]!;
      let verdict: ReturnType<typeof admit> = 'skip';
      let c: FlowCandidate | undefined;
      while (verdict === 'skip' && (c = group.tasks[next[i]!]) !== undefined) {
        verdict = admit(c, group);
        if (verdict === 'skip') {
          onPassedOver(1);
          next[i]!++;
        }
      }
      if (!c || verdict === 'skip') continue;
      if (verdict === 'stop') {
        for (const j of active) onPassedOver(groups[j]!.tasks.length - next[j]!);
        return picks;
      }
      if (verdict === 'drop') {
        onPassedOver(group.tasks.length - next[i]!);
        continue;
      }
      picks.push(c);
      next[i]!++;
      if (next[i]! < group.tasks.length) still.push(i);
    }
    active = still;
  }
  return picks;
}
