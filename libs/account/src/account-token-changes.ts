import { Injectable, Logger } from '@nestjs/common';

/** Told after commit that an account's access token was replaced or revoked. */
export type TokenRevokedListener = (accountId: number) => void;

/**
 * Revocation signalling (SPEC §2, §8.4): after login, refresh, rename, logout or a password change
 * has committed and replaced an existing access token, listeners learn the account's id, so that
 * long-lived connections holding the previous token (notification streams) can be closed at once.
 * Modules above accounts register with {@link onRevoked}; libs/account never imports them.
 */
@Injectable()
export class AccountTokenChanges {
  private readonly logger = new Logger(AccountTokenChanges.name);
  private readonly listeners = new Set<TokenRevokedListener>();

  /** Registers `fn`; returns the function that removes it. */
  onRevoked(fn: TokenRevokedListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** @internal AccountService, after commit. Never throws. */
  revoked(accountId: number): void {
    for (const fn of this.listeners) {
      try {
        fn(accountId);
      } catch (err) {
        this.logger.error(`token revocation listener failed for account ${accountId}: ${String(err)}`);
      }
    }
  }
}
