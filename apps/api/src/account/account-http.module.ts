import { Module } from '@nestjs/common';
import { AccountModule } from '@app/account';
import { AccountProfileService } from './account-profile.service';
import { AccountController } from './account.controller';

/**
 * HTTP edge of the account domain. The auth guards (JwtAuthGuard, SoftJwtAuthGuard, from
 * `@app/account`) and the rate limiter are installed globally by HttpEdgeModule.
 */
@Module({
  imports: [AccountModule],
  controllers: [AccountController],
  providers: [AccountProfileService],
  exports: [AccountModule],
})
export class AccountHttpModule {}
