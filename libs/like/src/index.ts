export * from './like.entity';
export * from './like.errors';
export * from './like.repository';
export * from './like.service';
export * from './like.handlers';
export * from './like-recount';
export * from './like.module';
