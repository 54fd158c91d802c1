export * from './feed.module';
export * from './feed.service';
export * from './feed.types';
export * from './feed-page-cache';
export * from './hot-list.service';
export { FeedRepository } from './feed.repository';
