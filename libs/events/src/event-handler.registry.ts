import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { ApplyContext } from './apply-context';
import type { EventPayloads, RoutingKey } from './events';

/**
 * How one routing key changes derived state. Domain modules register one per key they own;
 * the same handler runs in the worker (consumer), in the api's fallback (降级直写) and in the
 * source transaction when there is no broker, so every path applies an event identically.
 */
export interface DerivedStateHandler<K extends RoutingKey = RoutingKey> {
  routingKey: K;
  /**
   * Database part, inside the transaction that records the event as processed. Writes that many
   * events of a batch make alike (counters) may be deferred to `context`, which runs them once
   * for the whole batch before commit.
   */
  apply(manager: EntityManager, payload: EventPayloads[K], context: ApplyContext): Promise<void>;
  /** After commit, best effort: cache invalidation, Redis hot buckets (must be idempotent itself). */
  afterCommit?(payload: EventPayloads[K]): Promise<void>;
  /**
   * The same for all of a batch's events of this key at once (one Redis round for the batch);
   * used instead of {@link afterCommit} for batches when present.
   */
  afterCommitMany?(payloads: EventPayloads[K][]): Promise<void>;
}

@Injectable()
export class EventHandlerRegistry {
  private readonly handlers = new Map<RoutingKey, unknown>();

  register<K extends RoutingKey>(handler: DerivedStateHandler<K>): void {
    if (this.handlers.has(handler.routingKey)) {
      throw new Error(`a handler for ${handler.routingKey} is already registered`);
    }
    this.handlers.set(handler.routingKey, handler);
  }

  get<K extends RoutingKey>(key: K): DerivedStateHandler<K> | undefined {
    return this.handlers.get(key) as DerivedStateHandler<K> | undefined;
  }

  /** Routing keys without a handler (the worker refuses to start while any is missing). */
  missing(keys: readonly RoutingKey[]): RoutingKey[] {
    return keys.filter((k) => !this.handlers.has(k));
  }
}
