import { Module, OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AccountModule, AccountRenameHooks } from '@app/account';
import { IdempotencyService } from '@app/core';
import { VideoDeleteHooks, VideoModule } from '@app/video';
import { CommentEntity } from './comment.entity';
import { CommentEventsController } from './comment-events.controller';
import { CommentRepository } from './comment.repository';
import { CommentService } from './comment.service';

/** Comments: source rows, the comment counters' `@EventPattern` handlers, cleanup when a video is deleted. */
@Module({
  imports: [TypeOrmModule.forFeature([CommentEntity]), VideoModule, AccountModule],
  controllers: [CommentEventsController],
  providers: [CommentRepository, CommentService, IdempotencyService],
  exports: [CommentRepository, CommentService],
})
export class CommentModule implements OnModuleInit {
  constructor(
    private readonly deleteHooks: VideoDeleteHooks,
    private readonly comments: CommentRepository,
    private readonly renameHooks: AccountRenameHooks,
  ) {}

  onModuleInit(): void {
    this.deleteHooks.register((manager, videoId) => this.comments.deleteByVideo(manager, videoId));
    this.renameHooks.register((manager, accountId, name) =>
      this.comments.renameAuthor(manager, accountId, name),
    );
  }
}
