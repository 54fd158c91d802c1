import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import {
  type AlsoSet,
  applyCountsAndPage,
  beginCountBuild,
  BUILD_TTL_MS,
  CacheKeys,
  CacheStore,
  CountCursor,
  CountEntry,
  CountIndexKeys,
  CountPageRead,
  finishCountBuild,
  INDEX_TTL_MS,
  markCounts,
  peekCountPage,
  REPAIR_EVERY_MS,
} from '@app/cache';
import { APP_CONFIG, Database, placeholders, type AppConfig } from '@app/core';
import type { AfterCommitEffect, ApplyContext } from '@app/events';
import { VideoDeleteHooks } from './video-delete.hooks';
import { VideoListGeneration } from './video-list-generation';
import { VideoPublishHooks } from './video-publish.hooks';

/** Dirty ids one refresh reads from the primary (more wait for the next). */
const MAX_REFRESH = 1000;
/** Marks waiting beyond this (nobody reads the feed) drop the index: the next read rebuilds it. */
const MAX_DIRTY = 50_000;
/** A page asks for a refresh at most this many times before its caller's SQL query answers. */
const MAX_ATTEMPTS = 3;

/** The index's keys (without the store's prefix). */
export const LIKES_INDEX_KEYS: CountIndexKeys = {
  z: CacheKeys.likesIndex(),
  meta: CacheKeys.likesIndexMeta(),
  dirty: CacheKeys.likesIndexDirty(),
  tickets: CacheKeys.likesIndexTickets(),
  seq: CacheKeys.likesIndexSeq(),
};

/**
 * Drops the likes-count index (every process then answers from SQL until the next read rebuilds
 * it): after a refused mark, or counts changed behind the processes' backs (`npm run recount`).
 * False when Redis refused.
 */
export function dropLikesCountIndex(store: CacheStore): Promise<boolean> {
  return store.del(
    LIKES_INDEX_KEYS.z,
    LIKES_INDEX_KEYS.meta,
    LIKES_INDEX_KEYS.dirty,
    LIKES_INDEX_KEYS.tickets,
  );
}

/**
 * The likes-count index (issue 14, "every page from memory"): in Redis, the ids of the
 * `LIKES_INDEX_MAX_LENGTH` most-liked videos scored by `likes_count` (listLikesCount's order,
 * `(likes_count desc, id desc)`), kept exact by tickets ({@link markCounts}, layout and proof in
 * `libs/cache/src/count-index.ts`):
 *
 * - built from the primary (the covering index `ix_videos_likes_count`) after the first page that
 *   misses it; lives {@link INDEX_TTL_MS} from its build;
 * - every committed change of a count (the like handlers, wherever they run), publish and delete
 *   marks its video dirty after the commit: one script per batch, no query;
 * - a page first refreshes the dirty videos (their counts from the primary, one query, one refresh
 *   per process at a time), then reads past the cursor; it is served only when it is provably
 *   complete (a full page above the floor, or an index holding every video).
 *
 * A mark Redis refused makes this process skip the index until it is dropped (retried every
 * {@link REPAIR_EVERY_MS}); the next read rebuilds it. Without Redis, or with the length 0, the
 * caller's SQL query answers.
 */
@Injectable()
export class LikesCountIndex implements OnModuleDestroy {
  private readonly logger = new Logger(LikesCountIndex.name);
  private readonly cap: number;
  private building: Promise<void> | undefined;
  private refreshing: Promise<unknown> | undefined;
  /** A mark Redis refused: not read here until the index is dropped. */
  private owed = false;
  private repairTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly store: CacheStore,
    private readonly db: Database,
    private readonly generation: VideoListGeneration,
    @Inject(APP_CONFIG) config: AppConfig,
    published: VideoPublishHooks,
    deleted: VideoDeleteHooks,
  ) {
    this.cap = config.likesIndexMaxLength;
    // A new video (count 0) belongs in an index that holds every video; a deleted one leaves it.
    published.registerAfterCommit((v) => this.mark([v.id]));
    deleted.registerAfterCommit((v) => this.mark([v.id]));
  }

  get enabled(): boolean {
    return this.store.kind === 'redis' && this.cap > 0;
  }

  /**
   * The ids and counts of the page past `cursor` (highest count first, ties by id desc): `take` of
   * them, or every one there is; undefined when the index cannot answer (the caller's SQL query does).
   */
  async page(take: number, cursor: CountCursor | undefined): Promise<CountEntry[] | undefined> {
    if (!this.enabled || this.owed) return undefined;
    try {
      return await this.pageOnce(take, cursor);
    } catch (err) {
      // A refresh's query failed (the primary away): this page is the caller's SQL query's.
      this.logger.warn(`refresh failed: ${String(err)}`);
      return undefined;
    }
  }

  private async pageOnce(take: number, cursor: CountCursor | undefined): Promise<CountEntry[] | undefined> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const read = await peekCountPage(this.store, LIKES_INDEX_KEYS, cursor, take, MAX_REFRESH);
      if (read?.kind === 'miss') {
        // Built off this request's path: this page comes from SQL, the next from the index.
        void this.build();
        return undefined;
      }
      if (read?.kind !== 'refresh') return this.served(read, take);
      if (this.refreshing !== undefined) {
        // One refresh per process at a time: wait for it (whatever its outcome), then look again.
        await this.refreshing;
        continue;
      }
      const p = this.refresh(read.ticket, read.ids, cursor, take);
      this.refreshing = p.then(
        () => undefined,
        () => undefined,
      );
      void this.refreshing.finally(() => (this.refreshing = undefined));
      const applied = await p;
      if (applied?.kind !== 'dirty') return this.served(applied, take);
    }
    return undefined;
  }

  private served(read: CountPageRead | undefined, take: number): CountEntry[] | undefined {
    if (read?.kind !== 'ok') return undefined;
    // Every video counted above the floor is there: a full page is exact, a short one only when
    // the index holds every video (floor -1).
    if (read.entries.length < take && read.floor >= 0) return undefined;
    return read.entries;
  }

  private async refresh(
    ticket: number,
    ids: number[],
    cursor: CountCursor | undefined,
    take: number,
  ): Promise<CountPageRead | undefined> {
    const rows =
      ids.length === 0
        ? []
        : await this.db.query<{ id: number | string; likes_count: number | string }>(
            `SELECT v.id, v.likes_count FROM videos v WHERE v.id IN (${placeholders(ids.length)})`,
            ids,
          );
    const counts = new Map<number, number | null>(ids.map((id) => [id, null]));
    for (const r of rows) counts.set(Number(r.id), Number(r.likes_count));
    return applyCountsAndPage(this.store, LIKES_INDEX_KEYS, { ticket, counts, cap: this.cap }, cursor, take);
  }

  /** Builds the index if there is none (tests, warm-up); resolves when that build ended. */
  async warm(): Promise<void> {
    if (!this.enabled) return;
    await this.building;
    const read = await peekCountPage(this.store, LIKES_INDEX_KEYS, undefined, 1, 0);
    if (read?.kind === 'miss') await this.build();
  }

  private build(): Promise<void> {
    if (this.building === undefined && !this.closed) {
      this.building = this.buildOnce()
        .catch((err: unknown) => {
          if (!this.closed) this.logger.warn(`build failed: ${String(err)}`);
        })
        .finally(() => (this.building = undefined));
    }
    return this.building ?? Promise.resolve();
  }

  private async buildOnce(): Promise<void> {
    const token = randomUUID();
    if ((await beginCountBuild(this.store, LIKES_INDEX_KEYS, token, BUILD_TTL_MS)) === 0) return;
    // After the build's ticket: a count committed before it is in this read, one after is marked.
    // A backward scan of the covering index ix_videos_likes_count (likes_count, id): no row read.
    const rows = await this.db.query<{ id: number | string; likes_count: number | string }>(
      'SELECT v.id, v.likes_count FROM videos v ORDER BY v.likes_count DESC, v.id DESC LIMIT ?',
      [this.cap + 1],
    );
    const entries = rows.map((r) => ({ id: Number(r.id), count: Number(r.likes_count) }));
    const cut = entries.length > this.cap ? entries[this.cap] : undefined;
    await finishCountBuild(this.store, LIKES_INDEX_KEYS, {
      token,
      ttlMs: INDEX_TTL_MS,
      floor: cut ? cut.count : -1,
      entries: entries.slice(0, this.cap),
    });
  }

  /**
   * Marks videos whose count changed (or that were published, deleted, found gone or off), with
   * `also` set in the same step when given (a count's new video-list generation). Never throws.
   */
  async mark(ids: number[], also?: AlsoSet): Promise<void> {
    if (!this.enabled || ids.length === 0) return;
    const r = await markCounts(this.store, LIKES_INDEX_KEYS, ids, MAX_DIRTY, also);
    if (r === undefined) this.owe();
  }

  /**
   * Once the transaction of `ctx` commits: {@link mark} of every video the batch named, in one
   * call, moving the video-list generation in the same step (a likes-count page built before the
   * marks is not shared after them).
   */
  markAfterCommit(ctx: ApplyContext, id: number): void {
    if (this.enabled) {
      ctx.afterCommit('video.likes-index', () => new LikesIndexMarks(this, this.generation)).ids.add(id);
    }
  }

  private owe(): void {
    this.owed = true;
    this.repairTimer ??= setInterval(() => void this.repair(), REPAIR_EVERY_MS);
    this.repairTimer.unref();
  }

  private async repair(): Promise<void> {
    if (!(await dropLikesCountIndex(this.store))) return;
    this.owed = false;
    if (this.repairTimer) clearInterval(this.repairTimer);
    this.repairTimer = undefined;
    this.logger.log('likes-count index dropped after a refused mark; rebuilt on its next read');
  }

  onModuleDestroy(): void {
    this.closed = true;
    if (this.repairTimer) clearInterval(this.repairTimer);
    this.repairTimer = undefined;
  }
}

class LikesIndexMarks implements AfterCommitEffect {
  readonly ids = new Set<number>();
  constructor(
    private readonly index: LikesCountIndex,
    private readonly generation: VideoListGeneration,
  ) {}
  run(): Promise<void> {
    return this.index.mark([...this.ids], this.generation.next());
  }
}
