import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { CacheKeys, CacheStore, ScopedIdIndex } from '@app/cache';
import { APP_CONFIG, type AppConfig } from '@app/core';
import { VideoRepository } from './video.repository';

/**
 * The author indexes (issue 14, "every page from memory"): per author, in Redis, the ids of the
 * newest `AUTHOR_INDEX_MAX_LENGTH` videos (score = id, listByAuthorID's order and cursor), one
 * {@link ScopedIdIndex} scope per author. Built from the primary after the first page that misses it;
 * a publish pushes its video after the commit (and the `video.publish` handler again), a delete
 * removes it after its commit, and a page whose item is gone removes it too (that page then comes
 * from SQL). Without Redis, or with the length 0, listByAuthorID is the SQL query.
 *
 * Beside it, per author, a time index (score = create_time ms, ties by id: the following feed's
 * order and cursor) of as many newest videos, built, pushed and trimmed the same way: deep
 * following pages of viewers with few follows are merged from these in Redis (the feed's
 * `mergeFollowed`).
 */
@Injectable()
export class AuthorIndex implements OnModuleDestroy {
  private readonly index: ScopedIdIndex;
  private readonly byTime: ScopedIdIndex;

  constructor(store: CacheStore, videos: VideoRepository, @Inject(APP_CONFIG) config: AppConfig) {
    this.byTime = new ScopedIdIndex(store, {
      name: 'author time',
      keys: (author) => [
        CacheKeys.authorTimeIndex(Number(author)),
        CacheKeys.authorTimeIndexMeta(Number(author)),
      ],
      cap: config.authorIndexMaxLength,
      load: (author, take) => videos.latestByAuthorTime(Number(author), take),
    });
    this.index = new ScopedIdIndex(store, {
      name: 'author',
      keys: (author) => [CacheKeys.authorIndex(Number(author)), CacheKeys.authorIndexMeta(Number(author))],
      cap: config.authorIndexMaxLength,
      load: async (author, take) =>
        (await videos.latestIdsByAuthor(Number(author), take)).map((id) => ({ id, time: id })),
    });
  }

  /** The author's ids below `idBefore` (0 = from the newest), newest first: `take`, or all there are; undefined = ask SQL. */
  ids(authorId: number, take: number, idBefore: number): Promise<number[] | undefined> {
    // Scored by id: the cursor is a score, strictly below it.
    return this.index.ids(String(authorId), take, idBefore, 0);
  }

  /** Whether the time indexes are kept (Redis, and a length bound). */
  get timeEnabled(): boolean {
    return this.byTime.enabled;
  }

  /** Authors whose time index this process may not read (a push or removal Redis refused). */
  timeDistrusted(): string[] {
    return this.byTime.distrusted();
  }

  /** Builds these authors' time indexes where there are none, off the caller's path. */
  buildTime(authorIds: number[]): void {
    this.byTime.buildMissing(authorIds.map(String));
  }

  /** Builds the author's indexes if there are none; resolves when built (tests, warm-up). */
  async warm(authorId: number): Promise<void> {
    await Promise.all([this.index.warm(String(authorId)), this.byTime.warm(String(authorId))]);
  }

  /** Published videos into their authors' indexes (those that exist). Never throws. */
  async push(videos: { id: number; authorId: number; createTime: number }[]): Promise<void> {
    await Promise.all([
      this.index.push(videos.map((v) => ({ scope: String(v.authorId), entry: { id: v.id, time: v.id } }))),
      this.byTime.push(
        videos.map((v) => ({ scope: String(v.authorId), entry: { id: v.id, time: v.createTime } })),
      ),
    ]);
  }

  /** Deleted (or found gone) videos out of their author's indexes. Never throws. */
  async remove(authorId: number, ids: number[]): Promise<void> {
    await Promise.all([this.index.remove(String(authorId), ids), this.byTime.remove(String(authorId), ids)]);
  }

  onModuleDestroy(): void {
    this.index.close();
    this.byTime.close();
  }
}
