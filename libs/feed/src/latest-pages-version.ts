import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { CacheKeys, CacheStore } from '@app/cache';

/** Outlives any page copy (5 s) many times over; an expired version reads as "none". */
const VERSION_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * The version of the latest feed's first pages: a new random value each time a publish, a delete
 * or a rename drops them (after the drop), so an api's own copy of a page, taken under an older
 * version, is not served to a logged-in viewer (SPEC §7.5: the caller's own rename or delete shows
 * at once, on every api). With the in-process store there is one process, whose drops clear its
 * copies themselves: the version never changes.
 */
@Injectable()
export class LatestPagesVersion {
  constructor(private readonly store: CacheStore) {}

  /** After the pages were dropped. Never throws; a write Redis refused leaves other apis' copies to their 5 s. */
  async bump(): Promise<void> {
    if (this.store.kind === 'redis')
      await this.store.set(CacheKeys.latestFirstPagesVersion(), randomUUID(), VERSION_TTL_MS);
  }

  /** The current version; undefined when it cannot be known (Redis configured but not answering). */
  async current(): Promise<string | undefined> {
    if (this.store.kind !== 'redis') return 'local';
    const key = CacheKeys.latestFirstPagesVersion();
    const v = await this.store.withRedis((redis, prefix) => redis.get(prefix + key));
    return v === undefined ? undefined : (v ?? 'none');
  }
}
