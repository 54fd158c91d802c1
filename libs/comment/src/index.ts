export * from './comment.entity';
export * from './comment.errors';
export * from './comment.view';
export * from './comment.repository';
export * from './comment.service';
export * from './comment-events.controller';
export * from './comment-recount';
export * from './comment.module';
