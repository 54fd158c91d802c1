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
    const { account, token } = this.verifyHeader(header);
    return this.current(account, token);
  }

  /**
   * The header's first checks, synchronously: present, `Bearer <token>`, signature and expiry;
   * throws their 401s. The account it names is not yet known to hold this token: {@link current}
   * decides that (the fast reads start a read alongside that check and send nothing before it).
   */
  verifyHeader(header: string | undefined): { account: AuthAccount; token: string } {
    if (header === undefined || header.trim() === '') throw unauthenticated(AccountMessages.missingHeader);
    const m = BEARER.exec(header);
    if (!m) throw unauthenticated(AccountMessages.invalidHeader);
    const claims = this.jwt.verify(m[1]);
    return { account: { id: claims.account_id, username: claims.username }, token: m[1] };
  }

  /** The account, once `token` is its current token (SPEC §2); else the `revoked` 401. */
  async current(account: AuthAccount, token: string): Promise<AuthAccount> {
    if (!(await this.tokens.isCurrent(account.id, token))) throw unauthenticated(AccountMessages.revoked);
    return account;
  }

  /** Verifies signature and expiry, then that it is the account's current token (SPEC §2). */
  async authenticate(token: string): Promise<AuthAccount> {
    const claims = this.jwt.verify(token);
    return this.current({ id: claims.account_id, username: claims.username }, token);
  }
}
