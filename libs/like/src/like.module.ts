import { Module, OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { EventHandlerRegistry } from '@app/events';
import { VideoDeleteHooks, VideoModule } from '@app/video';
import { LikeEntity } from './like.entity';
import { LikeHandlers } from './like.handlers';
import { LikeRepository } from './like.repository';
import { LikeService } from './like.service';

/** Likes: source rows, the like counters' handlers, and cleanup when a video is deleted. */
@Module({
  imports: [TypeOrmModule.forFeature([LikeEntity]), VideoModule],
  providers: [LikeRepository, LikeService, LikeHandlers],
  exports: [LikeRepository, LikeService],
})
export class LikeModule implements OnModuleInit {
  constructor(
    private readonly registry: EventHandlerRegistry,
    private readonly handlers: LikeHandlers,
    private readonly deleteHooks: VideoDeleteHooks,
    private readonly likes: LikeRepository,
  ) {}

  onModuleInit(): void {
    for (const h of this.handlers.all()) this.registry.register(h);
    this.deleteHooks.register((manager, videoId) => this.likes.deleteByVideo(manager, videoId));
  }
}
