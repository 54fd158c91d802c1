import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { CacheKeys, CacheStore, ScopedIdIndex } from '@app/cache';
import { APP_CONFIG, type AppConfig } from '@app/core';
import { FeedRepository } from './feed.repository';

/**
 * The tag indexes (issue 14, "every page from memory"): per tag, in Redis, the ids of its newest
 * `TAG_INDEX_MAX_LENGTH` videos by (create_time, id), listByTag's order and cursor; one
 * {@link ScopedIdIndex} scope per tag (its normalised name). Built from the primary after the
 * first page that misses it; a publish pushes its video into each of its tags' indexes after the commit
 * (and the `video.publish` handler again), a delete removes it after its commit, and a page whose
 * item is gone removes it too (that page then comes from SQL). A video's tags never change after
 * its publish. Without Redis, or with the length 0, listByTag is the SQL query.
 */
@Injectable()
export class TagIndex implements OnModuleDestroy {
  private readonly index: ScopedIdIndex;

  constructor(store: CacheStore, repo: FeedRepository, @Inject(APP_CONFIG) config: AppConfig) {
    this.index = new ScopedIdIndex(store, {
      name: 'tag',
      keys: (tag) => [CacheKeys.tagIndex(tag), CacheKeys.tagIndexMeta(tag)],
      cap: config.tagIndexMaxLength,
      load: (tag, take) => repo.tagIds(tag, take),
    });
  }

  /** The page's ids past the cursor, newest first; undefined when the index cannot answer. */
  ids(tag: string, take: number, latestTime: number, idBefore: number): Promise<number[] | undefined> {
    return this.index.ids(tag, take, latestTime, idBefore);
  }

  /** Builds the tag's index if there is none; resolves when built (tests, warm-up). */
  warm(tag: string): Promise<void> {
    return this.index.warm(tag);
  }

  /** Published videos into their tags' indexes (those that exist). Never throws. */
  push(videos: { id: number; createTime: number; tags: readonly string[] }[]): Promise<void> {
    return this.index.push(
      videos.flatMap((v) => v.tags.map((tag) => ({ scope: tag, entry: { id: v.id, time: v.createTime } }))),
    );
  }

  /** A deleted video out of its tags' indexes (a gone one found by a page: out of that tag's). Never throws. */
  async remove(tags: readonly string[], ids: number[]): Promise<void> {
    await Promise.all(tags.map((tag) => this.index.remove(tag, ids)));
  }

  onModuleDestroy(): void {
    this.index.close();
  }
}
