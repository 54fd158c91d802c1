import { Body, Controller, Headers, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { AuthAccount } from '@app/account';
import { IdempotencyService } from '@app/core';
import { VideoService, VideoView } from '@app/video';
import { ApiCommonErrors, ApiErrors } from '../http/api-errors';
import { MessageResponse, VideoResponse } from '../http/api-responses';
import { CurrentAccount } from '../http/current-account.decorator';
import { RateLimit } from '../http/rate-limit.decorator';
import { Public } from '../http/route-metadata';
import { cursorOrUndefined, resolveLimit } from '../http/validators';
import { ListByAuthorDto } from './dto/list-by-author.dto';
import { PublishVideoDto } from './dto/publish-video.dto';
import { VideoIdDto } from './dto/video-id.dto';

@ApiTags('video')
@ApiCommonErrors()
@Controller('video')
export class VideoController {
  constructor(private readonly videos: VideoService) {}

  @Post('publish')
  @HttpCode(200)
  @RateLimit('publish')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Publish a video (Idempotency-Key: a retry returns the first response)' })
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  @ApiOkResponse({ type: VideoResponse })
  @ApiErrors(401, 429)
  publish(
    @CurrentAccount() me: AuthAccount,
    @Body() dto: PublishVideoDto,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<VideoView> {
    const key = IdempotencyService.parseKey(idempotencyKey);
    return this.videos.publish(
      me.id,
      {
        title: dto.title,
        description: dto.description ?? '',
        playUrl: dto.play_url,
        coverUrl: dto.cover_url,
      },
      key,
    );
  }

  @Post('listByAuthorID')
  @HttpCode(200)
  @Public()
  @ApiOperation({ summary: "An author's videos, newest first (page with id_before = last id)" })
  @ApiOkResponse({ type: [VideoResponse] })
  listByAuthorID(@Body() dto: ListByAuthorDto): Promise<VideoView[]> {
    return this.videos.listByAuthor(dto.author_id, cursorOrUndefined(dto.id_before), resolveLimit(dto.limit));
  }

  @Post('getDetail')
  @HttpCode(200)
  @Public()
  @ApiOperation({ summary: 'One video (cached; 404 when unknown)' })
  @ApiOkResponse({ type: VideoResponse })
  @ApiErrors(404)
  getDetail(@Body() dto: VideoIdDto): Promise<VideoView> {
    return this.videos.getDetail(dto.id);
  }

  @Post('delete')
  @HttpCode(200)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Delete one of your videos with its likes and comments (403 not yours, 404)' })
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(401, 403, 404)
  async delete(@CurrentAccount() me: AuthAccount, @Body() dto: VideoIdDto): Promise<MessageResponse> {
    await this.videos.delete(me.id, dto.id);
    return { message: 'video deleted' };
  }
}
