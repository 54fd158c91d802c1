import { Module, OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { VideoDeleteHooks, VideoModule } from '@app/video';
import { LikeEntity } from './like.entity';
import { LikeEventsController } from './like-events.controller';
import { LikeRepository } from './like.repository';
import { LikeService } from './like.service';
import { LikedSets } from './liked-sets';

/** Likes: source rows, the like counters' `@EventPattern` handlers, cleanup when a video is deleted. */
@Module({
  imports: [TypeOrmModule.forFeature([LikeEntity]), VideoModule],
  controllers: [LikeEventsController],
  providers: [LikeRepository, LikeService, LikedSets],
  exports: [LikeRepository, LikeService, LikedSets],
})
export class LikeModule implements OnModuleInit {
  constructor(
    private readonly deleteHooks: VideoDeleteHooks,
    private readonly likes: LikeRepository,
  ) {}

  onModuleInit(): void {
    this.deleteHooks.register((manager, videoId) => this.likes.deleteByVideo(manager, videoId));
  }
}
