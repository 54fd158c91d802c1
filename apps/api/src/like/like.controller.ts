import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { AuthAccount } from '@app/account';
import { LikedVideoView, LikeService } from '@app/like';
import { ApiCommonErrors, ApiErrors } from '../http/api-errors';
import { IsLikedResponse, LikedVideoResponse, MessageResponse } from '../http/api-responses';
import { CurrentAccount } from '../http/current-account.decorator';
import { RateLimit } from '../http/rate-limit.decorator';
import { cursorOrUndefined, resolveLimit } from '../http/validators';
import { ListLikedDto } from './dto/list-liked.dto';
import { VideoRefDto } from './dto/video-ref.dto';

@ApiTags('like')
@ApiBearerAuth()
@ApiCommonErrors()
@Controller('like')
export class LikeController {
  constructor(private readonly likes: LikeService) {}

  @Post('like')
  @HttpCode(200)
  @RateLimit('like')
  @ApiOperation({ summary: 'Like a video (404 video, 409 already liked)' })
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(401, 404, 409, 429)
  async like(@CurrentAccount() me: AuthAccount, @Body() dto: VideoRefDto): Promise<MessageResponse> {
    await this.likes.like(me.id, dto.video_id);
    return { message: 'liked' };
  }

  @Post('unlike')
  @HttpCode(200)
  @RateLimit('like')
  @ApiOperation({ summary: 'Remove your like (404 video, 409 not liked)' })
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(401, 404, 409, 429)
  async unlike(@CurrentAccount() me: AuthAccount, @Body() dto: VideoRefDto): Promise<MessageResponse> {
    await this.likes.unlike(me.id, dto.video_id);
    return { message: 'unliked' };
  }

  @Post('isLiked')
  @HttpCode(200)
  @ApiOperation({ summary: 'Whether you like a video (never cached)' })
  @ApiOkResponse({ type: IsLikedResponse })
  @ApiErrors(401, 404)
  async isLiked(@CurrentAccount() me: AuthAccount, @Body() dto: VideoRefDto): Promise<IsLikedResponse> {
    return { is_liked: await this.likes.isLiked(me.id, dto.video_id) };
  }

  @Post('listMyLikedVideos')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Videos you liked, most recently liked first (page with id_before = last like_id)',
  })
  @ApiOkResponse({ type: [LikedVideoResponse] })
  @ApiErrors(401)
  listMyLikedVideos(@CurrentAccount() me: AuthAccount, @Body() dto: ListLikedDto): Promise<LikedVideoView[]> {
    return this.likes.listMyLikedVideos(me.id, cursorOrUndefined(dto.id_before), resolveLimit(dto.limit));
  }
}
