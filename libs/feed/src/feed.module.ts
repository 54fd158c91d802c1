import { Module } from '@nestjs/common';
import { AccountModule } from '@app/account';
import { LikeModule } from '@app/like';
import { SocialModule } from '@app/social';
import { VideoModule } from '@app/video';
import { FeedRepository } from './feed.repository';
import { FeedService } from './feed.service';
import { HotListService } from './hot-list.service';
import { LatestIndex } from './latest-index';
import { SharedPages } from './shared-pages';
import { TagIndex } from './tag-index';
import { TimelineEventsController } from './timeline-events.controller';
import { Timelines } from './timelines';

/**
 * The feeds, the hot list, the following timelines, the latest and tag indexes. Its one controller is the `video.publish`
 * handler (the timelines' fan-out); the api's FeedHttpModule is the HTTP edge.
 */
@Module({
  imports: [AccountModule, LikeModule, SocialModule, VideoModule],
  controllers: [TimelineEventsController],
  providers: [FeedRepository, FeedService, HotListService, SharedPages, Timelines, LatestIndex, TagIndex],
  exports: [FeedService, HotListService, Timelines, LatestIndex, TagIndex],
})
export class FeedModule {}
