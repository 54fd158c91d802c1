import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { CacheKeys, CacheStore, IndexEntry, ScopedIdIndex } from '@app/cache';
import { APP_CONFIG, type AppConfig } from '@app/core';
import { FeedRepository } from './feed.repository';

/**
 * The latest index (issue 14, "every page from memory"): in Redis, the ids of the newest
 * `LATEST_INDEX_MAX_LENGTH` videos by (create_time, id), one {@link ScopedIdIndex} for everyone.
 * Built from the primary after the first page that misses it; each publish pushes its video from the
 * request that published it (after the commit) and again from the `video.publish` handler
 * (idempotent); a delete removes it after its commit, and a page whose item is gone removes it too
 * (that page then comes from SQL). Without Redis, or with the length 0, listLatest is the SQL query.
 */
@Injectable()
export class LatestIndex implements OnModuleDestroy {
  private readonly index: ScopedIdIndex;

  constructor(store: CacheStore, repo: FeedRepository, @Inject(APP_CONFIG) config: AppConfig) {
    this.index = new ScopedIdIndex(store, {
      name: 'latest',
      keys: () => [CacheKeys.latestIndex(), CacheKeys.latestIndexMeta()],
      cap: config.latestIndexMaxLength,
      load: (_scope, take, before) => repo.latestIds(take, before),
      paged: true,
    });
  }

  get enabled(): boolean {
    return this.index.enabled;
  }

  /** The ids of the page past the cursor, newest first; `undefined` when the index cannot answer. */
  ids(take: number, latestTime: number, idBefore: number): Promise<number[] | undefined> {
    return this.index.ids('', take, latestTime, idBefore);
  }

  /** Builds the index if there is none; resolves when built (tests, warm-up). */
  warm(): Promise<void> {
    return this.index.warm('');
  }

  /** Published videos into the index (if it exists). Never throws. */
  push(videos: IndexEntry[]): Promise<void> {
    return this.index.push(videos.map((entry) => ({ scope: '', entry })));
  }

  /** Deleted videos out of the index. Never throws. */
  remove(ids: number[]): Promise<void> {
    return this.index.remove('', ids);
  }

  onModuleDestroy(): void {
    this.index.close();
  }
}
