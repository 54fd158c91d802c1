export * from './like.entity';
export * from './like.errors';
export * from './like.repository';
export * from './like.service';
export * from './liked-sets';
export * from './like-events.controller';
export * from './like-recount';
export * from './like.module';
