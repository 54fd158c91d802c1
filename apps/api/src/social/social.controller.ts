import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { AuthAccount } from '@app/account';
import { FollowCounts, FollowersPage, SocialService, VloggersPage } from '@app/social';
import { ApiCommonErrors, ApiErrors } from '../http/api-errors';
import { CountsResponse, FollowersResponse, MessageResponse, VloggersResponse } from '../http/api-responses';
import { CurrentAccount } from '../http/current-account.decorator';
import { RateLimit, RefusesSelf } from '../http/rate-limit.decorator';
import { cursorOrUndefined, resolveLimit } from '../http/validators';
import { GetCountsDto } from './dto/get-counts.dto';
import { ListFollowersDto } from './dto/list-followers.dto';
import { ListVloggersDto } from './dto/list-vloggers.dto';
import { VloggerRefDto } from './dto/vlogger-ref.dto';

@ApiTags('social')
@ApiBearerAuth()
@ApiCommonErrors()
@Controller('social')
export class SocialController {
  constructor(private readonly social: SocialService) {}

  @Post('follow')
  @HttpCode(200)
  @RateLimit('follow')
  @RefusesSelf('vlogger_id')
  @ApiOperation({ summary: 'Follow an account (400 yourself, 404, 409 already following)' })
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(401, 404, 409, 429)
  async follow(@CurrentAccount() me: AuthAccount, @Body() dto: VloggerRefDto): Promise<MessageResponse> {
    await this.social.follow(me.id, dto.vlogger_id);
    return { message: 'followed' };
  }

  @Post('unfollow')
  @HttpCode(200)
  @RateLimit('follow')
  @ApiOperation({ summary: 'Stop following an account (404, 409 not following)' })
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(401, 404, 409, 429)
  async unfollow(@CurrentAccount() me: AuthAccount, @Body() dto: VloggerRefDto): Promise<MessageResponse> {
    await this.social.unfollow(me.id, dto.vlogger_id);
    return { message: 'unfollowed' };
  }

  @Post('getAllFollowers')
  @HttpCode(200)
  @ApiOperation({ summary: "An account's followers, newest follow first, with the total (default: you)" })
  @ApiOkResponse({ type: FollowersResponse })
  @ApiErrors(401, 404)
  getAllFollowers(@CurrentAccount() me: AuthAccount, @Body() dto: ListFollowersDto): Promise<FollowersPage> {
    return this.social.getFollowers(
      dto.vlogger_id ?? me.id,
      cursorOrUndefined(dto.id_before),
      resolveLimit(dto.limit),
    );
  }

  @Post('getAllVloggers')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Accounts an account follows, newest follow first, with the total (default: you)',
  })
  @ApiOkResponse({ type: VloggersResponse })
  @ApiErrors(401, 404)
  getAllVloggers(@CurrentAccount() me: AuthAccount, @Body() dto: ListVloggersDto): Promise<VloggersPage> {
    return this.social.getVloggers(
      dto.follower_id ?? me.id,
      cursorOrUndefined(dto.id_before),
      resolveLimit(dto.limit),
    );
  }

  @Post('getCounts')
  @HttpCode(200)
  @ApiOperation({ summary: 'Follower and vlogger totals (default: you)' })
  @ApiOkResponse({ type: CountsResponse })
  @ApiErrors(401, 404)
  getCounts(@CurrentAccount() me: AuthAccount, @Body() dto: GetCountsDto): Promise<FollowCounts> {
    return this.social.getCounts(dto.account_id ?? me.id);
  }
}
