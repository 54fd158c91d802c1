import { createSecretKey } from 'node:crypto';
import { Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { APP_CONFIG, type AppConfig } from '@app/core';
import { AccessTokenService } from './access-token.service';
import { AccountRenameHooks } from './account-rename-hooks';
import { AccountTokenChanges } from './account-token-changes';
import { AccountRepository } from './account.repository';
import { AccountService } from './account.service';
import { AuthService } from './auth.service';
import { JwtAuthGuard, SoftJwtAuthGuard } from './guards/jwt-auth.guard';
import { PasswordHasher } from './password-hasher.service';
import { TokenCache } from './token-cache.service';

/**
 * The account domain: no controllers (the api's AccountHttpModule is its HTTP edge). Provides
 * the auth guards; the api installs them globally (default-deny), the worker does not.
 */
@Module({
  imports: [
    JwtModule.registerAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        // A KeyObject, not the string: given a string, jsonwebtoken first tries to parse it as a
        // PEM public key on every verify (a thrown error each time: ~0.3 ms, measured as 29% of
        // an authenticated feed request's CPU), then makes a secret key of it.
        secret: createSecretKey(Buffer.from(config.jwtSecret, 'utf8')),
        signOptions: { algorithm: 'HS256', expiresIn: config.jwtTtlSeconds },
        verifyOptions: { algorithms: ['HS256'] },
      }),
    }),
  ],
  providers: [
    AccountRepository,
    AccountService,
    AuthService,
    AccessTokenService,
    TokenCache,
    PasswordHasher,
    AccountRenameHooks,
    AccountTokenChanges,
    JwtAuthGuard,
    SoftJwtAuthGuard,
  ],
  exports: [
    AccountRepository,
    AccountService,
    AuthService,
    AccessTokenService,
    AccountRenameHooks,
    AccountTokenChanges,
    JwtAuthGuard,
    SoftJwtAuthGuard,
  ],
})
export class AccountModule {}
