import { Module } from '@nestjs/common';
import { FeedModule, FeedService } from '@app/feed';
import { FastReads } from '../http/fast-reads';
import { FeedController } from './feed.controller';
import { feedFastRoutes } from './feed-fast-path';

/** HTTP edge of the feed domain: the feed routes, and their fast paths (see {@link FastReads}). */
@Module({
  imports: [FeedModule],
  controllers: [FeedController],
})
export class FeedHttpModule {
  constructor(fastReads: FastReads, feeds: FeedService) {
    for (const route of feedFastRoutes(feeds)) fastReads.add(route);
  }
}
