import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { AuthAccount } from '@app/account';
import { clampLimit, FeedService, LikesCountPage, PopularityPage, TimePage } from '@app/feed';
import { ApiCommonErrors, ApiErrors } from '../http/api-errors';
import { CurrentAccount } from '../http/current-account.decorator';
import { SoftAuth } from '../http/route-metadata';
import {
  LikesCountPageResponse,
  ListByFollowingDto,
  ListByPopularityDto,
  ListByTagDto,
  ListLatestDto,
  ListLikesCountDto,
  PopularityPageResponse,
  TimePageResponse,
} from './dto/feed.dto';

@ApiTags('feed')
@ApiCommonErrors()
@Controller('feed')
export class FeedController {
  constructor(private readonly feeds: FeedService) {}

  @SoftAuth()
  @Post('listLatest')
  @HttpCode(200)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Newest videos first, keyset-paged by (create_time, id)' })
  @ApiOkResponse({ type: TimePageResponse })
  @ApiErrors(401)
  listLatest(@Body() dto: ListLatestDto, @CurrentAccount() me?: AuthAccount): Promise<TimePage> {
    return this.feeds.listLatest(FeedService.timeQuery(dto.limit, dto.latest_time, dto.id_before), me?.id);
  }

  @SoftAuth()
  @Post('listLikesCount')
  @HttpCode(200)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Most-liked videos first, keyset-paged by (likes_count, id)' })
  @ApiOkResponse({ type: LikesCountPageResponse })
  @ApiErrors(401)
  listLikesCount(
    @Body() dto: ListLikesCountDto,
    @CurrentAccount() me?: AuthAccount,
  ): Promise<LikesCountPage> {
    return this.feeds.listLikesCount(
      {
        limit: clampLimit(dto.limit),
        likesCountBefore: dto.likes_count_before ?? undefined,
        idBefore: dto.id_before ?? undefined,
      },
      me?.id,
    );
  }

  @SoftAuth()
  @Post('listByPopularity')
  @HttpCode(200)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Hot list of the last 60 minutes: a frozen snapshot paged by as_of + offset' })
  @ApiOkResponse({ type: PopularityPageResponse })
  @ApiErrors(401)
  async listByPopularity(
    @Body() dto: ListByPopularityDto,
    @CurrentAccount() me?: AuthAccount,
  ): Promise<PopularityPage> {
    return this.feeds.listByPopularity(
      { limit: clampLimit(dto.limit), asOf: dto.as_of ?? 0, offset: dto.offset ?? 0 },
      me?.id,
    );
  }

  @SoftAuth()
  @Post('listByTag')
  @HttpCode(200)
  @ApiBearerAuth()
  @ApiOperation({
    summary:
      "A tag's videos, newest first, keyset-paged by (create_time, id) like listLatest (400 empty tag_name)",
  })
  @ApiOkResponse({ type: TimePageResponse })
  @ApiErrors(401)
  listByTag(@Body() dto: ListByTagDto, @CurrentAccount() me?: AuthAccount): Promise<TimePage> {
    return this.feeds.listByTag(
      dto.tag_name,
      FeedService.timeQuery(dto.limit, dto.latest_time, dto.id_before),
      me?.id,
    );
  }

  @Post('listByFollowing')
  @HttpCode(200)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Videos of the accounts the caller follows, newest first' })
  @ApiOkResponse({ type: TimePageResponse })
  @ApiErrors(401)
  listByFollowing(@Body() dto: ListByFollowingDto, @CurrentAccount() me: AuthAccount): Promise<TimePage> {
    return this.feeds.listByFollowing(
      FeedService.timeQuery(dto.limit, dto.latest_time, dto.id_before),
      me.id,
    );
  }
}
