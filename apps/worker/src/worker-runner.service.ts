import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import {
  AmqpConnection,
  EventHandlerRegistry,
  EventHousekeeper,
  ROUTING_KEYS,
  unboundRoutingKeys,
} from '@app/events';
import { CommentConsumer } from './comment.consumer';
import { LikeConsumer } from './like.consumer';
import { OutboxRelay } from './outbox-relay.service';
import { PopularityConsumer } from './popularity.consumer';
import { SocialConsumer } from './social.consumer';

/** Thrown at boot when a routing key has nobody to apply it. */
export class MissingHandlersError extends Error {
  constructor(readonly keys: string[]) {
    super(`no derived-state handler registered for: ${keys.join(', ')}`);
    this.name = 'MissingHandlersError';
  }
}

/**
 * Starts the worker once every module has registered its handlers: refuses to start while a
 * routing key has no handler, then consumes every queue and runs the outbox relay and the event
 * tables' pruning (without a broker the api prunes, and there is nothing to consume). On shutdown
 * it stops taking messages and waits for the ones in flight before the database closes.
 */
@Injectable()
export class WorkerRunner implements BeforeApplicationShutdown {
  private readonly logger = new Logger(WorkerRunner.name);
  private readonly consumers;

  constructor(
    private readonly registry: EventHandlerRegistry,
    private readonly connection: AmqpConnection,
    private readonly relay: OutboxRelay,
    private readonly housekeeper: EventHousekeeper,
    like: LikeConsumer,
    comment: CommentConsumer,
    social: SocialConsumer,
    popularity: PopularityConsumer,
  ) {
    this.consumers = [like, comment, social, popularity];
  }

  /**
   * Refuses to start (throws {@link MissingHandlersError}) while a routing key has no handler;
   * else starts consuming and the outbox relay. Called after the context is up, not as a
   * lifecycle hook: a context whose init fails cannot be closed (Nest's `close()` rethrows the init
   * error and runs no shutdown hook), which would leave its database and Redis connections open.
   */
  async start(): Promise<void> {
    const missing = [...this.registry.missing(ROUTING_KEYS), ...unboundRoutingKeys(ROUTING_KEYS)];
    if (missing.length > 0) throw new MissingHandlersError(missing);
    if (!this.connection.enabled) {
      this.logger.log('AMQP_URL is not set: derived state is applied by the api; nothing to consume');
      return;
    }
    for (const c of this.consumers) await c.start();
    this.relay.start();
    this.housekeeper.start();
    this.logger.log(
      this.connection.isUp
        ? `consuming ${this.consumers.map((c) => c.queue.name).join(', ')}`
        : 'RabbitMQ is down: consuming as soon as it is back (the outbox relay applies meanwhile)',
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all([this.relay.stop(), this.housekeeper.stop()]);
    await Promise.all(this.consumers.map((c) => c.stop()));
  }
}
