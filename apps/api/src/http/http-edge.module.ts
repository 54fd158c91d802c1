import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AccountModule, JwtAuthGuard, SoftJwtAuthGuard } from '@app/account';
import { BodyShapeGuard } from './body-shape.guard';
import { FastReads } from './fast-reads';
import { RateLimitGuard } from './rate-limit.guard';
import { RateLimiter } from './rate-limit.service';

/**
 * The HTTP edge's global guards, in SPEC §1's order of checks (global guards run in the order
 * they are provided here): body shape (400), JWTAuth (401, default-deny: a route without
 * `@Public()`/`@SoftAuth()` needs a token), SoftJWTAuth (401 for a bad token on `@SoftAuth()`
 * routes), rate limits (429). State checks (403/404/409) follow in the handlers.
 *
 *   @Post('like') @RateLimit('like') @ApiBearerAuth()           // JWT is the default: no marker
 *   like(@CurrentAccount() me: AuthAccount, @Body() dto: LikeDto) // me = { id, username }
 *
 *   @SoftAuth() @Post('listLatest')  // anonymous allowed; me is undefined when no header
 *   @Public()   @Post('getDetail')   // no auth; any token is ignored
 */
@Global()
@Module({
  imports: [AccountModule],
  providers: [
    RateLimiter,
    FastReads,
    { provide: APP_GUARD, useClass: BodyShapeGuard },
    { provide: APP_GUARD, useClass: JwtAuthGuard },
    { provide: APP_GUARD, useClass: SoftJwtAuthGuard },
    { provide: APP_GUARD, useClass: RateLimitGuard },
  ],
  exports: [RateLimiter, FastReads],
})
export class HttpEdgeModule {}
