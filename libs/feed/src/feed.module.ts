import { Module } from '@nestjs/common';
import { LikeModule } from '@app/like';
import { SocialModule } from '@app/social';
import { VideoModule } from '@app/video';
import { FeedRepository } from './feed.repository';
import { FeedService } from './feed.service';
import { HotListService } from './hot-list.service';
import { SharedPages } from './shared-pages';

/** The feeds and the hot list (no controllers: the api's FeedHttpModule is the edge). */
@Module({
  imports: [LikeModule, SocialModule, VideoModule],
  providers: [FeedRepository, FeedService, HotListService, SharedPages],
  exports: [FeedService, HotListService],
})
export class FeedModule {}
