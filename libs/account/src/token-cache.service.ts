import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { CacheKeys, CacheStore } from '@app/cache';
import { AccountRepository } from './account.repository';
import { tokenDigest } from './token-digest';

/** SPEC §5: `account:<id>` lives 24 h. */
export const TOKEN_CACHE_TTL_MS = 24 * 3600 * 1000;
/** What `account:<id>` holds after a revocation: blocks every self-heal (SET NX) until a new token is issued. */
export const TOKEN_TOMBSTONE = 'revoked';

/**
 * The self-healing token cache of SPEC §2, with revocation that a concurrent self-heal can
 * never undo. The database and the cache hold the token's digest ({@link tokenDigest}), never
 * the token:
 *
 * - Token changes (issue, replace, revoke) write the cache INSIDE the database transaction,
 *   after the UPDATE and while holding the account row's lock, so cache writes happen in the
 *   same order as the database writes. A revocation writes a tombstone rather than deleting.
 * - A check reads Redis; on a hit equal to the presented token it is valid. Otherwise the
 *   database decides, and a self-heal only fills an EMPTY key (SET NX): a self-heal that read
 *   the database before a revocation finds the tombstone (or the newer token) and writes
 *   nothing.
 * - If a cache write fails (Redis down), the account is remembered as "dirty": this process
 *   checks it against the database only, and deletes the key once Redis answers again, so a
 *   revoked token left in Redis by the outage is never trusted.
 */
@Injectable()
export class TokenCache implements OnModuleDestroy {
  private readonly logger = new Logger(TokenCache.name);
  private readonly dirty = new Set<number>();
  private repairTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly cache: CacheStore,
    private readonly accounts: AccountRepository,
  ) {}

  /** True when `token` is the account's current access token. */
  async isCurrent(accountId: number, token: string): Promise<boolean> {
    const digest = tokenDigest(token);
    const key = CacheKeys.token(accountId);
    let trustCache = true;
    if (this.dirty.has(accountId)) trustCache = await this.repair(accountId);
    if (trustCache) {
      // Held in this process (kept current by Redis): no round trip.
      const near = this.cache.nearCache();
      if (near?.get<string>(key) === digest) return true;
      const ticket = near?.ticket(key);
      const cached = await this.cache.get(key);
      if (cached === digest) {
        if (ticket) near?.fill(ticket, cached);
        return true;
      }
      const current = await this.currentToken(accountId);
      const ok = current !== null && current === digest;
      // Self-heal: fill only an empty key; a tombstone or a newer token wins over us.
      if (ok && cached === null) await this.cache.setNx(key, digest, TOKEN_CACHE_TTL_MS);
      return ok;
    }
    const current = await this.currentToken(accountId);
    return current !== null && current === digest;
  }

  /**
   * Records the account's new token digest (what `accounts.token` now holds), or its revocation
   * (`null`), in the cache. Call inside the transaction that changed `accounts.token`, after the
   * UPDATE, holding the row lock.
   */
  async store(accountId: number, digest: string | null): Promise<void> {
    const ok = await this.cache.set(
      CacheKeys.token(accountId),
      digest ?? TOKEN_TOMBSTONE,
      TOKEN_CACHE_TTL_MS,
    );
    if (!ok) this.markDirty(accountId);
  }

  private currentToken(accountId: number, manager?: EntityManager): Promise<string | null> {
    return this.accounts.tokenDigest(accountId, manager);
  }

  private markDirty(accountId: number): void {
    this.dirty.add(accountId);
    this.logger.warn(`token cache write failed for account ${accountId}; checking it in the database`);
    if (!this.repairTimer) {
      this.repairTimer = setInterval(() => void this.repairAll(), 250);
      this.repairTimer.unref();
    }
  }

  /** Deletes the possibly stale key; true once done (the key can be trusted again). */
  private async repair(accountId: number): Promise<boolean> {
    if (!(await this.cache.del(CacheKeys.token(accountId)))) return false;
    this.dirty.delete(accountId);
    if (this.dirty.size === 0 && this.repairTimer) {
      clearInterval(this.repairTimer);
      this.repairTimer = undefined;
    }
    return true;
  }

  private async repairAll(): Promise<void> {
    for (const id of [...this.dirty]) {
      if (!(await this.repair(id))) return;
    }
  }

  onModuleDestroy(): void {
    if (this.repairTimer) clearInterval(this.repairTimer);
  }
}
