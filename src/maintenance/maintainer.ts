/**
 * The Maintainer: the set of leader-only services (claim-timeout reaper, recurring scheduler, archiver)
 * started and stopped as one. `followLeadership` ties it to an Elector: the services run exactly while
 * this process leads.
 *
 * Start goes in order and stop in reverse; stop waits until every service has finished its run in flight,
 * so when the elector resigns afterwards no leader work of this process overlaps with its successor's.
 */
import type { Elector } from '../leadership/elector.js';
import type { Logger } from '../service/logger.js';
import { BaseStartStop, type StartStop } from '../service/start-stop.js';

export class Maintainer extends BaseStartStop {
  constructor(
    readonly services: readonly StartStop[],
    private readonly logger: Logger,
  ) {
    super('maintainer');
  }

  protected async doStart(): Promise<void> {
    for (const service of this.services) await service.start();
    this.logger.info({ services: this.services.map((s) => s.name) }, 'leader services started');
  }

  protected async doStop(): Promise<void> {
    for (const service of [...this.services].reverse()) {
      try {
        await service.stop();
      } catch (err) {
        this.logger.error({ err, service: service.name }, 'a leader service failed to stop');
      }
    }
    this.logger.info({ services: this.services.map((s) => s.name) }, 'leader services stopped');
  }

  /** Starts the services whenever `elector` gains leadership and stops them when it loses it. */
  followLeadership(elector: Elector): () => void {
    return elector.subscribe(({ isLeader }) => (isLeader ? this.start() : this.stop()));
  }
}
