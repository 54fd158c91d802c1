import { Module } from '@nestjs/common';
import { LikeModule } from '@app/like';
import { FeedRepository } from './feed.repository';
import { FeedService } from './feed.service';
import { HotListService } from './hot-list.service';

/** The feeds and the hot list (no controllers: the api's FeedHttpModule is the edge). */
@Module({
  imports: [LikeModule],
  providers: [FeedRepository, FeedService, HotListService],
  exports: [FeedService, HotListService],
})
export class FeedModule {}
