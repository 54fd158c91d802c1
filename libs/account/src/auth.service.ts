import { Injectable } from '@nestjs/common';
import { unauthenticated } from '@app/core';
import { AccountMessages } from './account.errors';
import type { AuthAccount } from './account.types';
import { AccessTokenService } from './access-token.service';
import { TokenCache } from './token-cache.service';

const BEARER = /^bearer +([^\s]+) *$/i;

/** Access-token checks of SPEC §2, for the auth guards (and any transport that carries a token). */
@Injectable()
export class AuthService {
  constructor(
    private readonly jwt: AccessTokenService,
    private readonly tokens: TokenCache,
  ) {}

  /** An `Authorization` header: missing or not `Bearer <token>` is a 401, then {@link authenticate}. */
  async authenticateHeader(header: string | undefined): Promise<AuthAccount> {
    if (header === undefined || header.trim() === '') throw unauthenticated(AccountMessages.missingHeader);
    const m = BEARER.exec(header);
    if (!m) throw unauthenticated(AccountMessages.invalidHeader);
    return this.authenticate(m[1]);
  }

  /** Verifies signature and expiry, then that it is the account's current token (SPEC §2). */
  async authenticate(token: string): Promise<AuthAccount> {
    const claims = this.jwt.verify(token);
    if (!(await this.tokens.isCurrent(claims.account_id, token))) {
      throw unauthenticated(AccountMessages.revoked);
    }
    return { id: claims.account_id, username: claims.username };
  }
}
