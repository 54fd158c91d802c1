import { Global, Module } from '@nestjs/common';
import { EventApplier } from './event-applier.service';
import { EventBus } from './event-bus.service';
import { EventHandlerRegistry } from './event-handler.registry';
import { EventPublisher, NoBrokerPublisher } from './event-publisher';

/**
 * Write path and derived-state plumbing shared by api and worker. The broker-backed
 * publisher replaces {@link NoBrokerPublisher} when `AMQP_URL` is set.
 */
@Global()
@Module({
  providers: [
    EventHandlerRegistry,
    EventApplier,
    EventBus,
    { provide: EventPublisher, useClass: NoBrokerPublisher },
  ],
  exports: [EventHandlerRegistry, EventApplier, EventBus, EventPublisher],
})
export class EventsModule {}
