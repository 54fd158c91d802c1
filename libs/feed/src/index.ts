export * from './feed.module';
export * from './feed.service';
export * from './feed.types';
export * from './feed-page-cache';
export * from './hot-list.service';
export { FeedRepository } from './feed.repository';
export {
  Timelines,
  TIMELINE_PART,
  TIMELINE_PART_SETTLE_MS,
  TIMELINE_TTL_MS,
  timelineMember,
} from './timelines';
export { dropParts, partKey, readParts, writePart } from './timeline-parts';
export { LatestIndex } from './latest-index';
export { TagIndex } from './tag-index';
