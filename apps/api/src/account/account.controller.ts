import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AccountService, CurrentAccount, Public } from '@app/account';
import type { AccountView, AuthAccount, LoginResult, RefreshResult } from '@app/account';
import { ApiCommonErrors, ApiErrors } from '../http/api-errors';
import { RateLimit, RateLimitFailures } from '../http/rate-limit.decorator';
import { AccountProfileService } from './account-profile.service';
import {
  AccountResponse,
  ChangePasswordDto,
  EmptyDto,
  FindByIdDto,
  FindByUsernameDto,
  GetProfileDto,
  LoginDto,
  LoginResponse,
  AccountMessageResponse,
  ProfileResponse,
  RefreshDto,
  RefreshResponse,
  RegisterDto,
  RegisterResponse,
  RenameDto,
  TokenResponse,
  UpdateProfileDto,
} from './dto/account.dto';

@ApiTags('account')
@ApiCommonErrors()
@Controller('account')
export class AccountController {
  constructor(
    private readonly accounts: AccountService,
    private readonly profiles: AccountProfileService,
  ) {}

  @Public()
  @RateLimit('register')
  @Post('register')
  @HttpCode(200)
  @ApiOperation({ summary: 'Create an account (5/hour per IP); 409 when the name is taken (any case)' })
  @ApiOkResponse({ type: RegisterResponse })
  @ApiErrors(409, 429)
  register(@Body() dto: RegisterDto): Promise<{ id: number; username: string }> {
    return this.accounts.register(dto.username, dto.password);
  }

  @Public()
  @RateLimitFailures('login', 'loginUser')
  @Post('login')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Log in: a new access token and refresh token (the previous ones are revoked). Failed attempts are ' +
      'limited per address (10/min) and per username and address (5/min)',
  })
  @ApiOkResponse({ type: LoginResponse })
  @ApiErrors(401, 429)
  login(@Body() dto: LoginDto): Promise<LoginResult> {
    return this.accounts.login(dto.username, dto.password);
  }

  @Public()
  @RateLimit('refresh')
  @Post('refresh')
  @HttpCode(200)
  @ApiOperation({ summary: 'A new access token from a refresh token (not rotated)' })
  @ApiOkResponse({ type: RefreshResponse })
  @ApiErrors(401, 429)
  refresh(@Body() dto: RefreshDto): Promise<RefreshResult> {
    return this.accounts.refresh(dto.refresh_token);
  }

  @Public()
  @RateLimitFailures('login', 'loginUser')
  @Post('changePassword')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Change the password; revokes the access and refresh tokens. A wrong username or old password is a ' +
      '400 naming old_password; failures share login’s limits',
  })
  @ApiOkResponse({ type: AccountMessageResponse })
  @ApiErrors(429)
  async changePassword(@Body() dto: ChangePasswordDto): Promise<{ message: string }> {
    await this.accounts.changePassword(dto.username, dto.old_password, dto.new_password);
    return { message: 'password changed' };
  }

  @Public()
  @Post('findByID')
  @HttpCode(200)
  @ApiOperation({ summary: 'An account by id' })
  @ApiOkResponse({ type: AccountResponse })
  @ApiErrors(404)
  findById(@Body() dto: FindByIdDto): Promise<AccountView> {
    return this.accounts.getById(dto.id);
  }

  @Public()
  @Post('findByUsername')
  @HttpCode(200)
  @ApiOperation({ summary: 'An account by username (any case)' })
  @ApiOkResponse({ type: AccountResponse })
  @ApiErrors(404)
  findByUsername(@Body() dto: FindByUsernameDto): Promise<AccountView> {
    return this.accounts.getByUsername(dto.username);
  }

  @Public()
  @Post('getProfile')
  @HttpCode(200)
  @ApiOperation({ summary: 'An account with its video, like, follower and vlogger counts' })
  @ApiOkResponse({ type: ProfileResponse })
  @ApiErrors(404)
  getProfile(@Body() dto: GetProfileDto): Promise<ProfileResponse> {
    return this.profiles.getProfile(dto.account_id);
  }

  @Post('rename')
  @RateLimit('rename')
  @HttpCode(200)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Rename (10/hour); returns a new token (the old one is revoked at once)' })
  @ApiOkResponse({ type: TokenResponse })
  @ApiErrors(401, 409, 429)
  rename(@CurrentAccount() me: AuthAccount, @Body() dto: RenameDto): Promise<{ token: string }> {
    return this.accounts.rename(me, dto.new_username);
  }

  @Post('logout')
  @HttpCode(200)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Revoke the access and refresh tokens' })
  @ApiOkResponse({ type: AccountMessageResponse })
  @ApiErrors(401)
  async logout(@CurrentAccount() me: AuthAccount, @Body() _dto: EmptyDto): Promise<{ message: string }> {
    await this.accounts.logout(me);
    return { message: 'logged out' };
  }

  @Post('updateProfile')
  @RateLimit('profile')
  @HttpCode(200)
  @ApiBearerAuth()
  @ApiOperation({
    summary: 'Set avatar_url ("" clears; else one of your image uploads) and/or bio (≤ 255); 30/min',
  })
  @ApiOkResponse({ type: AccountResponse })
  @ApiErrors(401, 429)
  updateProfile(@CurrentAccount() me: AuthAccount, @Body() dto: UpdateProfileDto): Promise<AccountView> {
    return this.accounts.updateProfile(me, { avatarUrl: dto.avatar_url, bio: dto.bio });
  }
}
