import { Body, Controller, Headers, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { AuthAccount } from '@app/account';
import { CommentService, CommentView } from '@app/comment';
import { IdempotencyService } from '@app/core';
import { ApiCommonErrors, ApiErrors } from '../http/api-errors';
import { CommentResponse, MessageResponse } from '../http/api-responses';
import { CurrentAccount } from '../http/current-account.decorator';
import { RateLimit } from '../http/rate-limit.decorator';
import { Public } from '../http/route-metadata';
import { cursorOrUndefined, resolveLimit } from '../http/validators';
import { CommentIdDto } from './dto/comment-id.dto';
import { ListCommentsDto } from './dto/list-comments.dto';
import { PublishCommentDto } from './dto/publish-comment.dto';

@ApiTags('comment')
@ApiCommonErrors()
@Controller('comment')
export class CommentController {
  constructor(private readonly comments: CommentService) {}

  @Post('listAll')
  @HttpCode(200)
  @Public()
  @ApiOperation({ summary: "A video's comments, oldest first (page with id_after = last id; 404 video)" })
  @ApiOkResponse({ type: [CommentResponse] })
  @ApiErrors(404)
  listAll(@Body() dto: ListCommentsDto): Promise<CommentView[]> {
    return this.comments.listAll(dto.video_id, cursorOrUndefined(dto.id_after), resolveLimit(dto.limit));
  }

  @Post('publish')
  @HttpCode(200)
  @RateLimit('comment')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Comment on a video (Idempotency-Key: a retry returns the first response)' })
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  @ApiOkResponse({ type: CommentResponse })
  @ApiErrors(401, 404, 429)
  publish(
    @CurrentAccount() me: AuthAccount,
    @Body() dto: PublishCommentDto,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<CommentView> {
    return this.comments.publish(
      me.id,
      dto.video_id,
      dto.content,
      IdempotencyService.parseKey(idempotencyKey),
    );
  }

  @Post('delete')
  @HttpCode(200)
  @RateLimit('comment')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Delete your comment (404; 403 not yours)' })
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(401, 403, 404, 429)
  async delete(@CurrentAccount() me: AuthAccount, @Body() dto: CommentIdDto): Promise<MessageResponse> {
    await this.comments.delete(me.id, dto.comment_id);
    return { message: 'comment deleted' };
  }
}
