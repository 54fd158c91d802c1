import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { APP_CONFIG, type AppConfig } from '@app/core';
import { AmqpPublisher, PUBLISH_CONFIRM_TIMEOUT_MS } from './amqp-publisher';
import { ConsumerMetrics } from './consumer-metrics';
import { EventApplier } from './event-applier.service';
import { EventBus } from './event-bus.service';
import { EventHandlers } from './event-handlers';
import { EventHousekeeper } from './event-housekeeper.service';
import { EventPublisher, NoBrokerPublisher } from './event-publisher';
import { OutboxMarker } from './outbox-marker.service';

/**
 * Write path and derived-state plumbing shared by api and worker: the `@EventPattern` handlers
 * found in the process ({@link EventHandlers}), the applier, the event bus, the outbox marks and
 * the event tables' pruning. With `AMQP_URL` set the publisher is {@link AmqpPublisher} (its own
 * managed connection, which declares the topology on every connect); without it,
 * {@link NoBrokerPublisher}. The worker's consuming side is the transport strategy, not a provider.
 */
@Global()
@Module({
  imports: [DiscoveryModule],
  providers: [
    EventHandlers,
    EventApplier,
    EventBus,
    EventHousekeeper,
    OutboxMarker,
    ConsumerMetrics,
    {
      provide: EventPublisher,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig): EventPublisher =>
        config.amqpUrl
          ? new AmqpPublisher(config.amqpUrl, PUBLISH_CONFIRM_TIMEOUT_MS, { queueType: config.amqpQueueType })
          : new NoBrokerPublisher(),
    },
  ],
  exports: [
    EventHandlers,
    EventApplier,
    EventBus,
    EventHousekeeper,
    EventPublisher,
    OutboxMarker,
    ConsumerMetrics,
  ],
})
export class EventsModule {}
