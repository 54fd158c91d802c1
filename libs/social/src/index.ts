export * from './social.entity';
export * from './social.errors';
export * from './social.view';
export * from './social.repository';
export * from './social.service';
export * from './social-events.controller';
export * from './social-recount';
export * from './social.module';
