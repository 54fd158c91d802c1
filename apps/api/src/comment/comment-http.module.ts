import { Module } from '@nestjs/common';
import { CommentModule } from '@app/comment';
import { CommentController } from './comment.controller';

/** HTTP edge of the comment domain. */
@Module({
  imports: [CommentModule],
  controllers: [CommentController],
})
export class CommentHttpModule {}
