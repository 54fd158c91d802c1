import { Module, OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AccountModule, AccountRenameHooks } from '@app/account';
import { IdempotencyService } from '@app/core';
import { EventHandlerRegistry } from '@app/events';
import { VideoDeleteHooks } from './video-delete.hooks';
import { VideoDetailCache } from './video-detail.cache';
import { VideoPopularityHandler } from './video-popularity.handler';
import { VideoEntity } from './video.entity';
import { VideoRepository } from './video.repository';
import { VideoService } from './video.service';

/** The video domain (no controllers: the worker loads it too). */
@Module({
  imports: [TypeOrmModule.forFeature([VideoEntity]), AccountModule],
  providers: [
    VideoRepository,
    VideoService,
    VideoDetailCache,
    VideoDeleteHooks,
    VideoPopularityHandler,
    IdempotencyService,
  ],
  exports: [VideoRepository, VideoService, VideoDetailCache, VideoDeleteHooks],
})
export class VideoModule implements OnModuleInit {
  constructor(
    private readonly registry: EventHandlerRegistry,
    private readonly popularity: VideoPopularityHandler,
    private readonly renameHooks: AccountRenameHooks,
    private readonly videos: VideoRepository,
    private readonly cache: VideoDetailCache,
  ) {}

  onModuleInit(): void {
    this.registry.register(this.popularity);
    this.renameHooks.register((manager, accountId, name) =>
      this.videos.renameAuthor(manager, accountId, name),
    );
    this.renameHooks.registerAfterCommit(async (accountId) =>
      this.cache.invalidate(...(await this.videos.idsByAuthor(accountId))),
    );
  }
}
