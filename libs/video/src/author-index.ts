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
 */
@Injectable()
export class AuthorIndex implements OnModuleDestroy {
  private readonly index: ScopedIdIndex;

  constructor(store: CacheStore, videos: VideoRepository, @Inject(APP_CONFIG) config: AppConfig) {
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

  /** Builds the author's index if there is none; resolves when built (tests, warm-up). */
  warm(authorId: number): Promise<void> {
    return this.index.warm(String(authorId));
  }

  /** Published videos into their authors' indexes (those that exist). Never throws. */
  push(videos: { id: number; authorId: number }[]): Promise<void> {
    return this.index.push(
      videos.map((v) => ({ scope: String(v.authorId), entry: { id: v.id, time: v.id } })),
    );
  }

  /** Deleted (or found gone) videos out of their author's index. Never throws. */
  remove(authorId: number, ids: number[]): Promise<void> {
    return this.index.remove(String(authorId), ids);
  }

  onModuleDestroy(): void {
    this.index.close();
  }
}
