export * from './like.entity';
