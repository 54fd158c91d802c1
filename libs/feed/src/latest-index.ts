import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { CacheKeys, CacheStore } from '@app/cache';
import { APP_CONFIG, type AppConfig } from '@app/core';
import { FeedRepository } from './feed.repository';
import {
  beginBuild,
  BUILD_TTL_MS,
  finishBuild,
  FLOOR_HINT_MS,
  INDEX_TTL_MS,
  IndexEntry,
  IndexKeys,
  indexMember,
  pushEntry,
  readIndex,
  REPAIR_EVERY_MS,
} from './id-index';

export const LATEST_INDEX_TTL_MS = INDEX_TTL_MS;

const keys: IndexKeys = (prefix) => [prefix + CacheKeys.latestIndex(), prefix + CacheKeys.latestIndexMeta()];

/**
 * The latest index (issue 14, "every page from memory"): in Redis, the ids of the newest
 * `LATEST_INDEX_MAX_LENGTH` videos by (create_time, id), the timelines' layout and scripts
 * ({@link readIndex}) with one index for everyone. Built from the primary on the first page that
 * misses it; each publish pushes its video from the request that published it (after the commit)
 * and again from the `video.publish` handler (idempotent); a delete removes it after its commit,
 * and a page whose item is gone removes it too (that page then comes from SQL). A page is answered
 * only when the index can prove it complete: a full page, or an index that holds every video.
 * Without Redis, or with the length 0, listLatest is the SQL query.
 */
@Injectable()
export class LatestIndex implements OnModuleDestroy {
  private readonly logger = new Logger(LatestIndex.name);
  private readonly cap: number;
  private building: Promise<void> | undefined;
  /** The floor's ms seen by the last read (0 = the index holds every video), and until when it is trusted. */
  private floorHint: { ms: number; until: number } | undefined;
  /** A push or removal Redis refused: the index may be wrong, so none is read here until it is dropped. */
  private dropOwed = false;
  private repairTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: CacheStore,
    private readonly repo: FeedRepository,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.cap = config.latestIndexMaxLength;
  }

  get enabled(): boolean {
    return this.store.kind === 'redis' && this.cap > 0;
  }

  /**
   * The ids of the page past the cursor, newest first: `take` of them, or every one there is;
   * `undefined` when the index cannot answer (the caller runs the SQL query).
   */
  async ids(take: number, latestTime: number, idBefore: number): Promise<number[] | undefined> {
    if (!this.enabled || this.dropOwed) return undefined;
    const hint = this.floorHint;
    if (latestTime > 0 && hint && hint.until > Date.now() && latestTime < hint.ms) return undefined;
    let read = await readIndex(this.store, keys, take, latestTime, idBefore);
    if (read?.kind === 'miss') {
      await this.build();
      read = await readIndex(this.store, keys, take, latestTime, idBefore);
    }
    if (read === undefined || read.kind !== 'ok') return undefined;
    this.floorHint = { ms: read.floor?.time ?? 0, until: Date.now() + FLOOR_HINT_MS };
    // Every entry at or above the floor is there: a full page past the cursor is exact.
    if (read.entries.length < take && read.floor !== null) return undefined;
    return read.entries.map((e) => e.id);
  }

  /** One build per process at a time (one running elsewhere makes this one a no-op). */
  private build(): Promise<void> {
    this.building ??= this.buildOnce()
      .catch((err: unknown) => this.logger.warn(`latest index build failed: ${String(err)}`))
      .finally(() => (this.building = undefined));
    return this.building;
  }

  private async buildOnce(): Promise<void> {
    const token = randomUUID();
    if (!(await beginBuild(this.store, keys, token, BUILD_TTL_MS, ''))) return;
    const entries = await this.repo.latestIds(this.cap + 1);
    await finishBuild(this.store, keys, {
      token,
      ttlMs: LATEST_INDEX_TTL_MS,
      cap: this.cap,
      all: entries.length <= this.cap,
      version: '0',
      extra: '',
      entries: entries.slice(0, this.cap),
    });
  }

  /** Published videos into the index (if it exists). Never throws: a refusal drops the index. */
  async push(videos: IndexEntry[]): Promise<void> {
    if (!this.enabled || videos.length === 0) return;
    const ok = await this.store.withRedis((redis, prefix) =>
      Promise.all(videos.map((v) => pushEntry(redis, keys(prefix), v, this.cap))),
    );
    if (ok === undefined) this.owe();
  }

  /** Deleted videos out of the index. Never throws: a refusal drops the index. */
  async remove(ids: number[]): Promise<void> {
    if (!this.enabled || ids.length === 0) return;
    const ok = await this.store.withRedis((redis, prefix) =>
      redis.zrem(keys(prefix)[0], ...ids.map(indexMember)),
    );
    if (ok === undefined) this.owe();
  }

  private owe(): void {
    this.dropOwed = true;
    this.repairTimer ??= setInterval(() => void this.repair(), REPAIR_EVERY_MS);
    this.repairTimer.unref();
  }

  private async repair(): Promise<void> {
    const [z, m] = keys('');
    if (!(await this.store.del(z, m))) return;
    this.dropOwed = false;
    if (this.repairTimer) clearInterval(this.repairTimer);
    this.repairTimer = undefined;
    this.logger.log('latest index dropped after a refused write; rebuilt on the next read');
  }

  onModuleDestroy(): void {
    if (this.repairTimer) clearInterval(this.repairTimer);
  }
}
