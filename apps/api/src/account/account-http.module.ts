import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AccountModule } from '@app/account';
import { AuthGuard } from '../http/auth.guard';
import { RateLimiter } from '../http/rate-limit.service';
import { AccountProfileService } from './account-profile.service';
import { AccountController } from './account.controller';

/**
 * HTTP edge of the account domain, and home of the global AuthGuard (JWT / soft / public and
 * rate limits for every route; see apps/api/src/http/auth.guard.ts).
 */
@Module({
  imports: [AccountModule],
  controllers: [AccountController],
  providers: [AccountProfileService, RateLimiter, { provide: APP_GUARD, useClass: AuthGuard }],
  exports: [AccountModule, RateLimiter],
})
export class AccountHttpModule {}
