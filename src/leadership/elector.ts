/**
 * The Elector: takes part in electing one leader among the server processes that share a store, and
 * tells its subscribers when this process gains or loses leadership. See docs/design/leadership.md for
 * the lease model and the state diagram.
 *
 * Every `intervalMs` it makes one step:
 * - as a follower, `leaderAttemptElect`: a new term if the lease is free or has expired;
 * - as the leader, `leaderAttemptReelect` for its term: the lease is extended to now + ttl. If the term
 *   is gone (someone else was elected), leadership is lost at once. If the store cannot be reached, it
 *   stays leader only until its trust window closes (`ttl − interval` after the last renewal), so it
 *   stops believing it leads before any other process can be elected.
 * On stop, a leader first lets its subscribers stop the leader-only services, then resigns, so that
 * another process is elected at its next step instead of after the lease runs out.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Clock } from '../service/clock.js';
import type { Logger } from '../service/logger.js';
import { LoopService } from '../service/start-stop.js';
import { TestSignal } from '../service/test-signal.js';
import type { Store } from '../store/store.js';
import type { LeaderLease } from '../types/index.js';
import { ELECTOR_INTERVAL_DEFAULT_MS, LEADER_LEASE_DEFAULT_MS } from '../types/service-defaults.js';

// Re-exported for existing importers; the definition is shared with the config schema.
export { ELECTOR_INTERVAL_DEFAULT_MS, LEADER_LEASE_DEFAULT_MS };

export interface ElectorConfig {
  /** This process's identity in the lease. Defaults to `newLeaderId()`. */
  leaderId?: string;
  /** Time between two steps (election attempts, or renewals while leading). Defaults to 1s. */
  intervalMs?: number;
  /** How long a term lasts without renewal. Must exceed `intervalMs`. Defaults to 5s. */
  ttlMs?: number;
}

export interface LeadershipChange {
  isLeader: boolean;
  leaderId: string;
  /** The term, when leadership was gained. */
  lease?: LeaderLease | undefined;
  /** Why leadership was lost. */
  reason?: string | undefined;
}

/** Called on every change; the elector waits for it before its next step. */
export type LeadershipListener = (change: LeadershipChange) => Promise<void> | void;

/** A leader id unique per process start: `tasques-<host>-<pid>-<random>`, readable in logs and the lease. */
export function newLeaderId(): string {
  return `tasques-${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

export class Elector extends LoopService<void> {
  readonly leaderId: string;
  readonly intervalMs: number;
  readonly ttlMs: number;
  /**
   * Opt-in signals for tests: gained (with the term) and lost (with the reason), each raised after the
   * subscribers have run, and every finished step (with whether this process leads).
   */
  readonly testSignals = {
    gained: new TestSignal<LeaderLease>('elector.gained'),
    lost: new TestSignal<string>('elector.lost'),
    stepped: new TestSignal<boolean>('elector.stepped'),
  };

  private term: LeaderLease | undefined;
  /** Clock time until which this process may act as leader without a successful renewal. */
  private trustUntil = 0;
  private readonly listeners = new Set<LeadershipListener>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    logger: Logger,
    config: ElectorConfig = {},
  ) {
    super('leader-elector', logger);
    this.leaderId = config.leaderId ?? newLeaderId();
    this.intervalMs = config.intervalMs ?? ELECTOR_INTERVAL_DEFAULT_MS;
    this.ttlMs = config.ttlMs ?? LEADER_LEASE_DEFAULT_MS;
    if (!(this.intervalMs > 0 && this.ttlMs > this.intervalMs)) {
      throw new Error(`Elector: the lease (${this.ttlMs}ms) must be longer than the interval (${this.intervalMs}ms)`);
    }
  }

  /** True while this process holds a term it trusts. */
  get isLeader(): boolean {
    return this.term !== undefined;
  }

  /** The term this process holds, if it leads. */
  get lease(): LeaderLease | undefined {
    return this.term;
  }

  /** Adds a listener; returns a function that removes it. */
  subscribe(listener: LeadershipListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One step of the state machine: elect as a follower, renew as the leader. */
  async runOnce(): Promise<void> {
    const now = this.clock.now();
    if (this.term === undefined) {
      let lease: LeaderLease | undefined;
      try {
        lease = await this.store.leaderAttemptElect({ leaderId: this.leaderId, now, ttlMs: this.ttlMs });
      } catch (err) {
        this.logger.warn({ err, leader_id: this.leaderId }, 'leader election attempt failed');
      }
      if (lease !== undefined) {
        this.term = lease;
        this.trustUntil = now + this.ttlMs - this.intervalMs;
        this.logger.info(
          { leader_id: this.leaderId, elected_at: new Date(lease.electedAt).toISOString() },
          'became leader',
        );
        await this.notify({ isLeader: true, leaderId: this.leaderId, lease });
        this.testSignals.gained.signal(lease);
      }
    } else {
      const term = this.term;
      let renewed: LeaderLease | undefined;
      try {
        renewed = await this.store.leaderAttemptReelect({
          leaderId: this.leaderId,
          electedAt: term.electedAt,
          now,
          ttlMs: this.ttlMs,
        });
        if (renewed === undefined) {
          await this.demote('the lease was taken over');
        } else {
          this.term = renewed;
          this.trustUntil = now + this.ttlMs - this.intervalMs;
        }
      } catch (err) {
        if (this.clock.now() >= this.trustUntil) {
          this.logger.error({ err, leader_id: this.leaderId }, 'could not renew the leader lease in time');
          await this.demote('the lease could not be renewed in time');
        } else {
          this.logger.warn({ err, leader_id: this.leaderId }, 'leader lease renewal failed; will retry');
        }
      }
    }
    this.testSignals.stepped.signal(this.term !== undefined);
  }

  protected delayAfter(): number {
    return this.intervalMs;
  }

  /** Stops electing; a leader stops its services (through the subscribers) and then resigns. */
  protected override async doStop(): Promise<void> {
    await super.doStop();
    const term = this.term;
    if (term === undefined) return;
    await this.demote('this server is stopping');
    try {
      await this.store.leaderResign({ leaderId: term.leaderId, electedAt: term.electedAt });
    } catch (err) {
      this.logger.warn({ err, leader_id: this.leaderId }, 'could not resign the leader lease; it will expire');
    }
  }

  private async demote(reason: string): Promise<void> {
    this.term = undefined;
    this.logger.info({ leader_id: this.leaderId, reason }, 'lost leadership');
    await this.notify({ isLeader: false, leaderId: this.leaderId, reason });
    this.testSignals.lost.signal(reason);
  }

  private async notify(change: LeadershipChange): Promise<void> {
    for (const listener of this.listeners) {
      try {
        await listener(change);
      } catch (err) {
        this.logger.error({ err, leader_id: this.leaderId }, 'a leadership listener failed');
      }
    }
  }
}
