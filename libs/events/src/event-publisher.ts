import type { DomainEvent } from './events';
import type { DependencyState } from '@app/cache';

/**
 * Publishes to the broker and resolves only on the broker's confirm. Implementations never
 * throw: `false` means "not confirmed" (broker down, unroutable, nack, timeout), which the
 * caller answers with the direct write.
 */
export abstract class EventPublisher {
  abstract readonly enabled: boolean;
  abstract state(): DependencyState;
  /** {@link state}, checked with the broker where it may be stale (`/healthz`); never throws. */
  probe(): Promise<DependencyState> {
    return Promise.resolve(this.state());
  }
  abstract publish(event: DomainEvent): Promise<boolean>;
  /**
   * Messages waiting in each named queue (broker-wide), or null without a reachable broker; a
   * broker that does not answer within `waitMs` (a default of the implementation's) gives what
   * was read by then.
   */
  abstract queueDepths(queues: readonly string[], waitMs?: number): Promise<Map<string, number> | null>;
}

/** The embedded profile: no broker; derived updates are applied in the source transaction. */
export class NoBrokerPublisher extends EventPublisher {
  readonly enabled = false;
  state(): DependencyState {
    return 'disabled';
  }
  publish(): Promise<boolean> {
    return Promise.resolve(false);
  }
  queueDepths(): Promise<Map<string, number> | null> {
    return Promise.resolve(null);
  }
}
