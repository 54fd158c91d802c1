import type { SharedWriteMarks } from '@app/core';
import { CacheKeys } from './cache-keys';
import type { CacheStore } from './cache-store';

/**
 * Read-your-writes marks in Redis (`ryw:<account id>`, living the sticky window): an account that
 * wrote through one api process reads the primary on every process. While Redis cannot answer
 * the mark is unknown, and the reader takes the primary.
 */
export class CacheWriteMarks implements SharedWriteMarks {
  constructor(private readonly store: CacheStore) {}

  mark(accountId: number, ttlMs: number): Promise<boolean> {
    return this.store.set(CacheKeys.recentWrite(accountId), '1', ttlMs);
  }

  async isMarked(accountId: number): Promise<boolean | undefined> {
    const key = CacheKeys.recentWrite(accountId);
    const n = await this.store.withRedis((redis, prefix) => redis.exists(prefix + key), false, false, []);
    return n === undefined ? undefined : n > 0;
  }
}
