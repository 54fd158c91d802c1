import { Module, OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AccountModule, AccountRenameHooks } from '@app/account';
import { IdempotencyService } from '@app/core';
import { EventHandlerRegistry } from '@app/events';
import { VideoDeleteHooks, VideoModule } from '@app/video';
import { CommentEntity } from './comment.entity';
import { CommentHandlers } from './comment.handlers';
import { CommentRepository } from './comment.repository';
import { CommentService } from './comment.service';

/** Comments: source rows, the comment counters' handlers, cleanup when a video is deleted. */
@Module({
  imports: [TypeOrmModule.forFeature([CommentEntity]), VideoModule, AccountModule],
  providers: [CommentRepository, CommentService, CommentHandlers, IdempotencyService],
  exports: [CommentRepository, CommentService],
})
export class CommentModule implements OnModuleInit {
  constructor(
    private readonly registry: EventHandlerRegistry,
    private readonly handlers: CommentHandlers,
    private readonly deleteHooks: VideoDeleteHooks,
    private readonly comments: CommentRepository,
    private readonly renameHooks: AccountRenameHooks,
  ) {}

  onModuleInit(): void {
    for (const h of this.handlers.all()) this.registry.register(h);
    this.deleteHooks.register((manager, videoId) => this.comments.deleteByVideo(manager, videoId));
    this.renameHooks.register((manager, accountId, name) =>
      this.comments.renameAuthor(manager, accountId, name),
    );
  }
}
