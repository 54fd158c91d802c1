import { Module } from '@nestjs/common';
import { AccountRenameHooks } from './account-rename-hooks';
import { AccountService } from './account.service';
import { AuthService } from './auth.service';
import { JwtService } from './jwt.service';
import { PasswordHasher } from './password-hasher.service';
import { TokenCache } from './token-cache.service';

/** The account domain: no controllers (the api's AccountHttpModule is its HTTP edge). */
@Module({
  providers: [AccountService, AuthService, JwtService, TokenCache, PasswordHasher, AccountRenameHooks],
  exports: [AccountService, AuthService, JwtService, AccountRenameHooks],
})
export class AccountModule {}
