import { Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { APP_CONFIG, type AppConfig } from '@app/core';
import { AccessTokenService } from './access-token.service';
import { AccountRenameHooks } from './account-rename-hooks';
import { AccountService } from './account.service';
import { AuthService } from './auth.service';
import { PasswordHasher } from './password-hasher.service';
import { TokenCache } from './token-cache.service';

/** The account domain: no controllers (the api's AccountHttpModule is its HTTP edge). */
@Module({
  imports: [
    JwtModule.registerAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        secret: config.jwtSecret,
        signOptions: { algorithm: 'HS256', expiresIn: config.jwtTtlSeconds },
        verifyOptions: { algorithms: ['HS256'] },
      }),
    }),
  ],
  providers: [
    AccountService,
    AuthService,
    AccessTokenService,
    TokenCache,
    PasswordHasher,
    AccountRenameHooks,
  ],
  exports: [AccountService, AuthService, AccessTokenService, AccountRenameHooks],
})
export class AccountModule {}
