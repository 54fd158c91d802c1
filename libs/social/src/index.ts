export * from './social.entity';
