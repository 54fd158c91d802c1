import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@app/core';
import { AmqpConnection } from './amqp-connection';
import { AmqpPublisher } from './amqp-publisher';
import { DeadLetterCounter } from './dead-letter.counter';
import { EventApplier } from './event-applier.service';
import { EventBus } from './event-bus.service';
import { EventHandlerRegistry } from './event-handler.registry';
import { EventHousekeeper } from './event-housekeeper.service';
import { EventPublisher, NoBrokerPublisher } from './event-publisher';
import { OutboxMarker } from './outbox-marker.service';

/**
 * Write path and derived-state plumbing shared by api and worker. With `AMQP_URL` set the
 * publisher is {@link AmqpPublisher} on the process's {@link AmqpConnection} (which declares the
 * topology on every connect); without it, {@link NoBrokerPublisher}.
 */
@Global()
@Module({
  providers: [
    EventHandlerRegistry,
    EventApplier,
    EventBus,
    EventHousekeeper,
    OutboxMarker,
    DeadLetterCounter,
    AmqpConnection,
    {
      provide: EventPublisher,
      inject: [APP_CONFIG, AmqpConnection],
      useFactory: (config: AppConfig, connection: AmqpConnection): EventPublisher =>
        config.amqpUrl ? new AmqpPublisher(connection) : new NoBrokerPublisher(),
    },
  ],
  exports: [
    EventHandlerRegistry,
    EventApplier,
    EventBus,
    EventHousekeeper,
    EventPublisher,
    OutboxMarker,
    DeadLetterCounter,
    AmqpConnection,
  ],
})
export class EventsModule {}
