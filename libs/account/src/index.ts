export * from './account.entity';
