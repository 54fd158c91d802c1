import { Injectable } from '@nestjs/common';
import { unauthenticated } from '@app/core';
import { AccountMessages } from './account.errors';
import type { AuthAccount } from './account.types';
import { AccessTokenService } from './access-token.service';
import { TokenCache } from './token-cache.service';

/** Access-token checks for the HTTP guard (header parsing stays in the app). */
@Injectable()
export class AuthService {
  constructor(
    private readonly jwt: AccessTokenService,
    private readonly tokens: TokenCache,
  ) {}

  /** Verifies signature and expiry, then that it is the account's current token (SPEC §2). */
  async authenticate(token: string): Promise<AuthAccount> {
    const claims = this.jwt.verify(token);
    if (!(await this.tokens.isCurrent(claims.account_id, token))) {
      throw unauthenticated(AccountMessages.revoked);
    }
    return { id: claims.account_id, username: claims.username };
  }
}
