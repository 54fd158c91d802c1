import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { CacheAside, CacheKeys, CacheStore } from '@app/cache';
import { Database } from '@app/core';
import type { AfterCommitEffect, ApplyContext } from '@app/events';
import { VideoListGeneration } from './video-list-generation';
import type { VideoView } from './video.view';

const DETAIL_TTL_MS = 5 * 60 * 1000;
/** Unknown ids are cached briefly (penetration), never long: ids are handed out later. */
const NEGATIVE_TTL_MS = 5 * 1000;
/** A reader that loaded the old row just before a change may write it back after our delete. */
const SECOND_DELETE_MS = 500;
/**
 * With read replicas, what an invalidated key holds for the replica window instead of nothing:
 * the next read refills it from the primary (a replica may not have the change yet), so a replica's
 * old row is never cached after a change. Valid JSON, so the cache-aside hands it back as a hit.
 */
const REFILL_FROM_PRIMARY = '{"refill":"primary"}';
interface RefillMark {
  refill: string;
}
const isRefillMark = (v: VideoView | RefillMark | null): v is RefillMark => v !== null && 'refill' in v;

/** How often deletes Redis refused are retried. */
const REPAIR_EVERY_MS = 1000;

/**
 * `video:detail:id=<id>` (SPEC §5). Every invalidation deletes the key (with read replicas: marks
 * it {@link REFILL_FROM_PRIMARY}) at once and again a moment later (batched), which removes a
 * stale value a concurrent reload put back; a load of it running in this process is no longer
 * joined. A delete Redis refused is retried every second until it lands; meanwhile this process
 * reads that video from the primary and caches nothing for it.
 */
@Injectable()
export class VideoDetailCache implements OnModuleDestroy {
  private pending = new Set<number>();
  private timer: NodeJS.Timeout | null = null;
  private readonly refills = new Map<number, Promise<VideoView | null>>();
  /** Ids whose delete Redis refused: read from the primary, uncached, until a retry lands. */
  private readonly dirty = new Set<number>();
  private repairTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: CacheStore,
    private readonly aside: CacheAside,
    private readonly db: Database,
    private readonly generation: VideoListGeneration,
  ) {}

  async get(id: number, load: () => Promise<VideoView | null>): Promise<VideoView | null> {
    if (this.dirty.has(id)) return this.db.reads.onPrimary(load);
    let loaded = false;
    const key = CacheKeys.videoDetail(id);
    const view = await this.aside.getOrLoad<VideoView | RefillMark | null>(
      key,
      { ttlMs: DETAIL_TTL_MS, name: 'video_detail' },
      async () => {
        loaded = true;
        return load();
      },
    );
    if (isRefillMark(view)) return this.refill(id, load);
    if (loaded && view === null) await this.store.set(key, 'null', NEGATIVE_TTL_MS);
    return view;
  }

  /**
   * Many entries at once (the items of a feed page): one MGET, then the misses loaded together by
   * `load` (from the primary for keys marked "refill from the primary", else as `load` reads) and
   * cached. `null` for an id the cache knows is gone or `load` did not return; such ids are not
   * cached here (the caller decides: a page's id may be a replica's lag, not a delete).
   */
  async getMany(
    ids: number[],
    load: (ids: number[], primary: boolean) => Promise<VideoView[]>,
  ): Promise<Map<number, VideoView | null>> {
    const out = new Map<number, VideoView | null>();
    if (ids.length === 0) return out;
    const raw = await this.store.mget(ids.map((id) => CacheKeys.videoDetail(id)));
    const misses: number[] = [];
    const refills: number[] = [];
    const uncached: number[] = [];
    ids.forEach((id, i) => {
      const value = raw[i];
      if (this.dirty.has(id)) return uncached.push(id);
      if (value === null || value === undefined) return misses.push(id);
      const parsed = JSON.parse(value) as VideoView | RefillMark | null;
      if (isRefillMark(parsed)) return refills.push(id);
      out.set(id, parsed === null ? null : parsed.tags ? parsed : { ...parsed, tags: [] });
    });
    const loaded = await Promise.all([
      misses.length > 0 ? load(misses, false) : [],
      refills.length > 0 ? load(refills, true) : [],
      uncached.length > 0 ? load(uncached, true) : [],
    ]);
    const views = [...loaded[0], ...loaded[1]];
    await Promise.all(
      views.map((v) => this.store.set(CacheKeys.videoDetail(v.id), JSON.stringify(v), DETAIL_TTL_MS)),
    );
    for (const v of [...views, ...loaded[2]]) out.set(v.id, v);
    for (const id of [...misses, ...refills, ...uncached]) if (!out.has(id)) out.set(id, null);
    return out;
  }

  /**
   * The items of an index's page, in the order of `ids` ({@link getMany}). When some are gone
   * (asked again of the primary: a replica may not have them yet), `removeGone` takes those
   * really gone out of the index and the answer is undefined (the caller's SQL query answers).
   */
  async pageOf(
    ids: number[],
    load: (ids: number[], primary: boolean) => Promise<VideoView[]>,
    removeGone: (ids: number[]) => Promise<void>,
  ): Promise<VideoView[] | undefined> {
    const views = await this.getMany(ids, load);
    const gone = ids.filter((id) => !views.get(id));
    if (gone.length === 0) return ids.map((id) => views.get(id) as VideoView);
    const there = new Set((await load(gone, true)).map((v) => v.id));
    await removeGone(gone.filter((id) => !there.has(id)));
    return undefined;
  }

  /** The key was invalidated within the replica window: load from the primary (once per process), cache that. */
  private refill(id: number, load: () => Promise<VideoView | null>): Promise<VideoView | null> {
    const running = this.refills.get(id);
    if (running) return running;
    const p = (async () => {
      const view = await this.db.reads.onPrimary(load);
      // A gone video's negative entry outlives the replica window: no replica brings it back.
      const ttl = view === null ? Math.max(NEGATIVE_TTL_MS, this.db.reads.stickyMs) : DETAIL_TTL_MS;
      await this.store.set(CacheKeys.videoDetail(id), JSON.stringify(view), ttl);
      return view;
    })().finally(() => this.refills.delete(id));
    this.refills.set(id, p);
    return p;
  }

  /**
   * Deletes the keys; with read replicas, marks them "refill from the primary" for the replica
   * window. Either way a new {@link VideoListGeneration}: pages listing these videos are stale too.
   */
  private async forget(ids: number[]): Promise<void> {
    const keys = ids.map((id) => CacheKeys.videoDetail(id));
    // A load of one of these that read the old row is no longer joined by later readers.
    for (const id of ids) this.refills.delete(id);
    this.aside.forget(...keys);
    const bumped = this.generation.bump();
    const refused = await this.drop(ids);
    for (const id of refused) this.markDirty(id);
    await bumped;
  }

  /** Deletes (or marks) the keys; resolves the ids Redis refused. */
  private async drop(ids: number[]): Promise<number[]> {
    const keys = ids.map((id) => CacheKeys.videoDetail(id));
    if (!this.db.reads.enabled) return (await this.store.del(...keys)) ? [] : ids;
    const done = await Promise.all(
      keys.map((k) => this.store.set(k, REFILL_FROM_PRIMARY, this.db.reads.stickyMs)),
    );
    return ids.filter((_, i) => !done[i]);
  }

  private markDirty(id: number): void {
    this.dirty.add(id);
    this.repairTimer ??= setInterval(() => void this.repair(), REPAIR_EVERY_MS);
    this.repairTimer.unref();
  }

  /** Retries refused deletes; until one lands, that video is read from the primary, uncached. */
  private async repair(): Promise<void> {
    const ids = [...this.dirty];
    const refused = new Set(await this.drop(ids));
    for (const id of ids) if (!refused.has(id)) this.dirty.delete(id);
    if (this.dirty.size === 0 && this.repairTimer) {
      clearInterval(this.repairTimer);
      this.repairTimer = null;
    }
  }

  async invalidate(...ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.forget(ids);
    for (const id of ids) this.pending.add(id);
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), SECOND_DELETE_MS);
      this.timer.unref();
    }
  }

  /** Once the transaction of `ctx` commits: `invalidate` of every id the batch named, in one call. */
  invalidateAfterCommit(ctx: ApplyContext, id: number): void {
    ctx.afterCommit('video.detail', () => new DetailInvalidation(this)).ids.add(id);
  }

  private async flush(): Promise<void> {
    this.timer = null;
    const ids = [...this.pending];
    this.pending = new Set();
    if (ids.length > 0) await this.forget(ids);
  }

  async onModuleDestroy(): Promise<void> {
    if (this.repairTimer) clearInterval(this.repairTimer);
    this.repairTimer = null;
    if (this.timer) clearTimeout(this.timer);
    await this.flush();
  }
}

class DetailInvalidation implements AfterCommitEffect {
  readonly ids = new Set<number>();
  constructor(private readonly cache: VideoDetailCache) {}
  run(): Promise<void> {
    return this.cache.invalidate(...this.ids);
  }
}
