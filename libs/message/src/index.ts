export * from './message.entity';
export * from './conversation.entity';
export * from './message.errors';
export * from './message.view';
export * from './message.repository';
export * from './message.service';
export * from './message.module';
