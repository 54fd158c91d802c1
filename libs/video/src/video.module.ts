import { Module, OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AccountModule, AccountRenameHooks } from '@app/account';
import { IdempotencyService } from '@app/core';
import { AuthorIndex } from './author-index';
import { LikesCountIndex } from './likes-count-index';
import { VideoDeleteHooks } from './video-delete.hooks';
import { VideoDetailCache } from './video-detail.cache';
import { VideoPublishHooks } from './video-publish.hooks';
import { VideoListGeneration } from './video-list-generation';
import { VideoEventsController } from './video-events.controller';
import { VideoTagRepository } from './video-tag.repository';
import { TagEntity, VideoTagEntity } from './tag.entity';
import { VideoEntity } from './video.entity';
import { VideoRepository } from './video.repository';
import { VideoService } from './video.service';

/** The video domain. Its one controller is its `@EventPattern` handlers (no HTTP routes). */
@Module({
  imports: [TypeOrmModule.forFeature([VideoEntity, TagEntity, VideoTagEntity]), AccountModule],
  controllers: [VideoEventsController],
  providers: [
    VideoRepository,
    VideoService,
    VideoDetailCache,
    VideoListGeneration,
    VideoDeleteHooks,
    VideoPublishHooks,
    VideoTagRepository,
    IdempotencyService,
    AuthorIndex,
    LikesCountIndex,
  ],
  exports: [
    VideoRepository,
    VideoService,
    VideoDetailCache,
    VideoListGeneration,
    VideoDeleteHooks,
    VideoPublishHooks,
    AuthorIndex,
    LikesCountIndex,
  ],
})
export class VideoModule implements OnModuleInit {
  constructor(
    private readonly renameHooks: AccountRenameHooks,
    private readonly videos: VideoRepository,
    private readonly cache: VideoDetailCache,
    private readonly deleteHooks: VideoDeleteHooks,
    private readonly tags: VideoTagRepository,
  ) {}

  onModuleInit(): void {
    this.deleteHooks.register((manager, videoId) => this.tags.deleteByVideo(manager, videoId));
    this.renameHooks.register((manager, accountId, name) =>
      this.videos.renameAuthor(manager, accountId, name),
    );
    this.renameHooks.registerAfterCommit(async (accountId) =>
      this.cache.invalidate(...(await this.videos.idsByAuthor(accountId))),
    );
  }
}
