/**
 * Liveness and readiness (`GET /healthz`, `GET /readyz`). Liveness never touches the store: a slow store
 * must not get a healthy process restarted. Readiness asks the store one cheap question, the leader
 * lease (`leaderGet`: one row or document, read on every elector step anyway), which fails when the store
 * is unreachable, closed or not set up; it also fails before migrations are done and once shutdown began,
 * so a load balancer stops sending work before the listener closes.
 */
import type { Clock } from '../service/clock.js';
import type { Logger } from '../service/logger.js';
import type { Store } from '../store/store.js';

/** A readiness probe that takes longer than this fails: probes have short timeouts of their own. */
export const READINESS_TIMEOUT_MS = 2_000;

export type Readiness = { ready: true } | { ready: false; problem: string };

export class Health {
  private migrated = false;
  private shuttingDown = false;
  /** The last problem logged, so that a failing store is logged when it starts and stops failing, not per probe. */
  private lastProblem: string | undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly timeoutMs = READINESS_TIMEOUT_MS,
  ) {}

  /** The store schema is up to date (the server calls this once `store.migrate()` resolved). */
  markMigrated(): void {
    this.migrated = true;
  }

  /** Shutdown began: not ready any more. */
  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  /** Whether the server can take work; problems go to `logger` (the request's, so they carry its id). */
  async readiness(logger: Logger = this.logger): Promise<Readiness> {
    const result = await this.check(logger);
    const problem = result.ready ? undefined : result.problem;
    if (problem !== this.lastProblem) {
      if (problem === undefined) logger.info({}, 'ready again');
      this.lastProblem = problem;
    }
    return result;
  }

  private async check(logger: Logger): Promise<Readiness> {
    if (this.shuttingDown) return { ready: false, problem: 'shutting down' };
    if (!this.migrated) return { ready: false, problem: 'store migrations not done' };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.timeoutMs);
    });
    try {
      const answer = await Promise.race([this.store.leaderGet({ now: this.clock.now() }).then(() => 'ok' as const), timeout]);
      if (answer === 'timeout') {
        const problem = `store did not answer within ${this.timeoutMs} ms`;
        if (problem !== this.lastProblem) logger.warn({}, `not ready: ${problem}`);
        return { ready: false, problem };
      }
      return { ready: true };
    } catch (err) {
      // The error text stays in the log: the probe is unauthenticated, and store errors can name hosts.
      const problem = 'store unreachable (see the server log)';
      if (problem !== this.lastProblem) logger.warn({ err }, 'not ready: the store failed to answer');
      return { ready: false, problem };
    } finally {
      clearTimeout(timer);
    }
  }
}
