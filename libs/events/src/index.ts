export * from './events';
export * from './outbox.entity';
export * from './processed-event.entity';
export * from './event-handler.registry';
export * from './event-applier.service';
export * from './event-publisher';
export * from './event-bus.service';
export * from './events.module';
