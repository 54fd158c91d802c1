export * from './comment.entity';
