/**
 * The SQLite store's group commit (docs/design/sqlite-group-commit.md).
 *
 * A commit costs more than the writes it commits (WAL frames, file locks: ~25 µs against ~6 µs for an
 * insert). So the hot writes made in one turn of the event loop (the requests whose bytes arrived together)
 * share one transaction: the first of them opens it (BEGIN IMMEDIATE, the write lock, as each of them took
 * before), the others join it, and a setImmediate callback commits it once the turn's I/O callbacks have
 * run. Nothing is acknowledged before its commit: every method called while a group is open, read or
 * write, settles only after that commit (a read may have seen the group's writes), and fails if the group
 * fails. Durability is unchanged: what the caller was told is in the WAL.
 *
 * Every Store method runs its body through `GroupCommit.run`, naming itself; `STORE_GROUP_ROLES` says what
 * each method does with a group, and the compiler checks that it names every Store method.
 */
import type Database from 'better-sqlite3';
import type { Store } from '../store.js';

/** What a Store method does with the group commit. */
export type GroupRole =
  /** A per-request write of the task lifecycle: opens a group when none is open, else joins it. */
  | 'opens'
  /** Runs at once; when a group is open it joins it (settles after its commit, fails with it). */
  | 'joins'
  /** Commits the open group first (close: nothing open may be lost with the handle). */
  | 'commits-first'
  /** Not a method. */
  | 'property';

export const STORE_GROUP_ROLES = {
  capabilities: 'property',
  archivedTaskDeleteBefore: 'joins',
  archivedTaskGet: 'joins',
  close: 'commits-first',
  leaderAttemptElect: 'joins',
  leaderAttemptReelect: 'joins',
  leaderGet: 'joins',
  leaderResign: 'joins',
  migrate: 'joins',
  queueActivityList: 'joins',
  queueActivityWrite: 'joins',
  queueDepthList: 'joins',
  queueDepthWrite: 'joins',
  queueFlowPrune: 'joins',
  operationCreate: 'joins',
  operationGet: 'joins',
  operationList: 'joins',
  operationUpdate: 'joins',
  operationPrune: 'joins',
  queueFlowStatus: 'joins',
  queueLimitsList: 'joins',
  queueLimitsSet: 'joins',
  queueSeriesDeleteBefore: 'joins',
  queueSetPaused: 'joins',
  queueStateList: 'joins',
  queueStatsList: 'joins',
  recurringTaskCreate: 'joins',
  recurringTaskGet: 'joins',
  recurringTaskList: 'joins',
  recurringTaskListNotLoaded: 'joins',
  recurringTaskTickList: 'joins',
  recurringTaskTickRecord: 'joins',
  recurringTaskUpdate: 'joins',
  taskArchive: 'joins',
  taskClaim: 'opens',
  taskCountOutstanding: 'joins',
  taskCount: 'joins',
  taskCreate: 'opens',
  taskCreateMany: 'opens',
  taskDeleteMany: 'opens',
  taskGet: 'joins',
  taskGetMany: 'joins',
  taskList: 'joins',
  taskListTimedOut: 'joins',
  taskNextRunAt: 'joins',
  taskUpdate: 'opens',
  taskUpdateMany: 'opens',
  workerClaimList: 'joins',
  workerSeenList: 'joins',
  workerSeenPrune: 'joins',
  workerSeenRecord: 'joins',
} as const satisfies Record<keyof Store, GroupRole>;

/** The Store methods (every key of the table but the properties). */
export type StoreMethodName = {
  [K in keyof typeof STORE_GROUP_ROLES]: (typeof STORE_GROUP_ROLES)[K] extends 'property' ? never : K;
}[keyof typeof STORE_GROUP_ROLES];

interface Group {
  /** Settles each member once the group has committed (error undefined) or failed. */
  members: ((error: unknown) => void)[];
  /** In-memory changes of the members, applied only once the group has committed. */
  afterCommit: (() => void)[];
  /** Set when SQLite rolled the transaction back under the group: nothing of it was written. */
  error: unknown;
  settled: boolean;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * The instances of this process with an open group. A call on one instance first commits the groups of the
 * others (a second connection to the same file, as in tests): an open group holds the write lock until its
 * setImmediate, and the other connection would wait out busy_timeout on the blocked event loop.
 */
const withOpenGroup = new Set<GroupCommit>();

/** The group commit of one connection. */
export class GroupCommit {
  private open: Group | undefined;
  /** The in-memory changes of the method body running now (see `afterCommit`). */
  private collecting: (() => void)[] | undefined;
  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;
  private readonly rollback: Database.Statement;

  constructor(private readonly db: Database.Database) {
    this.begin = db.prepare('BEGIN IMMEDIATE');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
  }

  /**
   * Runs the body of the Store method `method` at once (synchronously: it sees the writes made before it),
   * and settles the returned promise as `STORE_GROUP_ROLES[method]` says. Statement errors that SQLite
   * answers by undoing one statement (a UNIQUE violation) stay with their caller; an error after which
   * SQLite rolled the whole transaction back fails every member of the group.
   */
  run<T>(method: StoreMethodName, body: () => T): Promise<T> {
    const role = STORE_GROUP_ROLES[method];
    if (role === 'commits-first') {
      this.commitOpen();
      return this.settleAlone(this.execute(body));
    }
    for (const other of withOpenGroup) if (other !== this) other.commitOpen();
    if (this.open === undefined && role === 'opens' && this.db.open && !this.db.inTransaction) {
      try {
        this.begin.run();
      } catch (e) {
        return Promise.reject(e); // e.g. SQLITE_BUSY: another process held the write lock past busy_timeout
      }
      const opened: Group = { members: [], afterCommit: [], error: undefined, settled: false };
      this.open = opened;
      withOpenGroup.add(this);
      setImmediate(() => this.commitGroup(opened));
    }
    const group = this.open;
    if (group === undefined) return this.settleAlone(this.execute(body));
    const effects: (() => void)[] = [];
    const outcome = this.execute(body, effects);
    if (!this.db.inTransaction && !group.settled) {
      // SQLite rolled the whole transaction back (e.g. disk full, RAISE(ROLLBACK)): the group's writes are gone.
      group.error = outcome.ok ? new Error('the SQLite transaction of this write was rolled back') : outcome.error;
      this.forget(group);
    } else if (outcome.ok) {
      group.afterCommit.push(...effects);
    }
    return new Promise<T>((resolve, reject) => {
      group.members.push((error) => {
        if (!outcome.ok) reject(outcome.error);
        else if (error !== undefined) reject(error);
        else resolve(outcome.value);
      });
    });
  }

  /**
   * Applies an in-memory change (a cache of what the database holds) only once what the running method
   * wrote has committed: at the group's commit, or, outside a group, when the method's own transaction has
   * committed. Dropped if the method or its group fails, so a cache never runs ahead of the database.
   */
  afterCommit(effect: () => void): void {
    if (this.collecting === undefined) throw new Error('afterCommit outside a store method body');
    this.collecting.push(effect);
  }

  /** Commits the open group now, if any (close; another connection's call). */
  commitOpen(): void {
    if (this.open !== undefined) this.commitGroup(this.open);
  }

  private execute<T>(body: () => T, effects: (() => void)[] = []): Outcome<T> & { effects: (() => void)[] } {
    const outer = this.collecting;
    this.collecting = effects;
    try {
      return { ok: true, value: body(), effects };
    } catch (error) {
      return { ok: false, error, effects };
    } finally {
      this.collecting = outer;
    }
  }

  /** Outside a group the body's own transaction has committed (or there was none) when it returns. */
  private settleAlone<T>(outcome: Outcome<T> & { effects: (() => void)[] }): Promise<T> {
    if (!outcome.ok) return Promise.reject(outcome.error);
    for (const effect of outcome.effects) effect();
    return Promise.resolve(outcome.value);
  }

  private forget(group: Group): void {
    if (this.open === group) {
      this.open = undefined;
      withOpenGroup.delete(this);
    }
  }

  private commitGroup(group: Group): void {
    if (group.settled) return;
    group.settled = true;
    this.forget(group);
    let error = group.error;
    if (error === undefined) {
      try {
        this.commit.run();
      } catch (e) {
        error = e;
        try {
          if (this.db.inTransaction) this.rollback.run();
        } catch {
          // Nothing more to undo.
        }
      }
    }
    if (error === undefined) for (const effect of group.afterCommit) effect();
    for (const settle of group.members) settle(error);
  }
}
