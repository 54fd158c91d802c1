import { randomUUID } from 'node:crypto';
import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { type AlsoSet, CacheAside, CacheKeys, CacheStore, stampStillGuards } from '@app/cache';
import { Database } from '@app/core';
import type { AfterCommitEffect, ApplyContext } from '@app/events';
import { VideoListGeneration } from './video-list-generation';
import type { VideoView } from './video.view';

const DETAIL_TTL_MS = 5 * 60 * 1000;
/** Unknown ids are cached briefly (penetration), never long: ids are handed out later. */
const NEGATIVE_TTL_MS = 5 * 1000;
/** A reader that loaded the old row just before a change may have cached it: a second mark. */
const SECOND_DELETE_MS = 500;
/**
 * How long a change stamp lives: longer than any load that may have read the row before the
 * change (a statement times out after `DB_STATEMENT_TIMEOUT_MS`, 2 s by default, plus its wait for
 * a pool connection), since its fill must find the new stamp to be refused.
 */
const STAMP_TTL_MS = 30 * 1000;
/** Pages over which {@link VideoDetailCache}'s miss share is a mean (exponentially weighted). */
const MISS_SHARE_PAGES = 64;
/** From this share of pages with a miss on, a page's MGET reads the entries' change stamps too. */
const MISS_SHARE_TOGETHER = 0.25;

/**
 * With read replicas, what an invalidated key holds for the replica window instead of nothing:
 * the next read refills it from the primary (a replica may not have the change yet), so a
 * replica's old row is never cached after a change. Valid JSON, so a read hands it back as a hit;
 * unique per change, so a refill lands only over the very mark it read.
 */
interface RefillMark {
  refill: string;
}
const isRefillMark = (v: VideoView | RefillMark | null): v is RefillMark => v !== null && 'refill' in v;

/**
 * An entry that is `JSON.stringify` of a video's view with its tags (every entry this build
 * writes for a video): it starts with the id, and a string value cannot hold the unescaped
 * `"tags":[`, so only the field itself matches. Not a refill mark, not `null`.
 */
export function isViewText(raw: string): boolean {
  return raw.startsWith('{"id":') && raw.includes('"tags":[');
}

/**
 * A change of the videos `ids`: their `getDetail` entries are deleted (with read replicas, marked
 * "refill from the primary" for the replica window, so no replica's older row is cached) and their
 * change stamps renewed, in one step per key ({@link CacheStore.markChanged}, which also sets what
 * `also` makes for that key: a new video-list generation each); resolves the ids Redis refused.
 * For {@link VideoDetailCache}, the worker's reconciler and `npm run recount`.
 */
export async function markDetailsChanged(
  store: CacheStore,
  db: Database,
  ids: number[],
  also?: () => AlsoSet,
): Promise<number[]> {
  const mark = db.reads.enabled
    ? { value: JSON.stringify({ refill: 'primary', v: randomUUID() }), ttlMs: db.reads.stickyMs }
    : undefined;
  const done = await Promise.all(
    ids.map((id) => store.markChanged(CacheKeys.videoDetail(id), STAMP_TTL_MS, mark, also?.())),
  );
  return ids.filter((_, i) => !done[i]);
}

/** How often changes Redis refused are retried. */
const REPAIR_EVERY_MS = 250;

/**
 * `video:detail:id=<id>` (SPEC §5). Every invalidation deletes the key and renews its change stamp
 * ({@link markDetailsChanged}; with read replicas the key is marked "refill from the primary"
 * instead) at once and again a moment later (batched); a load of it running in this process is no
 * longer joined. A fill reads the stamp before its load and lands only if it is unchanged and the
 * key still absent; a refill lands only over the mark it read. So a load that read the row before
 * a change never caches it, in any process. A change Redis refused is retried every 250 ms until
 * it lands; meanwhile this process reads that video from the primary and caches nothing for it.
 */
@Injectable()
export class VideoDetailCache implements OnModuleDestroy {
  private pending = new Set<number>();
  private timer: NodeJS.Timeout | null = null;
  /** Loads of marked keys running in this process, by id, with the marker each read. */
  private readonly refills = new Map<number, { seen: string; view: Promise<VideoView | null> }>();
  /** Ids whose delete Redis refused: read from the primary, uncached, until a retry lands. */
  private readonly dirty = new Set<number>();
  /** The share of this process's recent pages that missed an entry (a mean over ~{@link MISS_SHARE_PAGES}). */
  private missShare = 0;
  private repairTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: CacheStore,
    private readonly aside: CacheAside,
    private readonly db: Database,
    private readonly generation: VideoListGeneration,
  ) {}

  async get(id: number, load: () => Promise<VideoView | null>): Promise<VideoView | null> {
    const entry = await this.getText(id, load);
    return typeof entry === 'string' ? (JSON.parse(entry) as VideoView) : entry;
  }

  /**
   * As {@link get}, but an entry that is a video's view with its tags (the usual hit) comes back as
   * the text it was cached as, `JSON.stringify` of the view (`getDetail`'s answer, sent unparsed);
   * anything else (gone, a refill, an entry cached before tags) as the view or null.
   */
  async getText(id: number, load: () => Promise<VideoView | null>): Promise<string | VideoView | null> {
    const raw = await this.getRaw(id, load);
    if (raw === undefined) return this.db.reads.onPrimary(load);
    if (isViewText(raw)) return raw;
    const view = JSON.parse(raw) as VideoView | RefillMark | null;
    if (isRefillMark(view)) return this.refill(id, raw, load);
    return view === null || view.tags ? view : { ...view, tags: [] };
  }

  /** The entry's text, filled by `load` on a miss; undefined for an id read from the primary, uncached. */
  private async getRaw(id: number, load: () => Promise<VideoView | null>): Promise<string | undefined> {
    if (this.dirty.has(id)) return undefined;
    const key = CacheKeys.videoDetail(id);
    // Held in this process (kept current by Redis): no round trip.
    const near = this.store.nearCache();
    const held = near?.get<string>(key);
    if (held !== undefined) {
      this.aside.countHit('video_detail');
      return held;
    }
    const ticket = near?.ticket(key);
    const raw = await this.aside.getOrLoadRaw(
      key,
      {
        ttlMs: DETAIL_TTL_MS,
        name: 'video_detail',
        guarded: { stampTtlMs: STAMP_TTL_MS },
        ttlFor: (value) => (value === 'null' ? NEGATIVE_TTL_MS : DETAIL_TTL_MS),
      },
      async () => JSON.stringify(await load()),
    );
    // Only a video's view: not a refill mark, nor a "no such video".
    if (ticket && isViewText(raw)) near?.fill(ticket, raw);
    return raw;
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
    const entries = await this.entries(ids, load);
    const out = new Map<number, VideoView | null>();
    for (const [id, e] of entries) out.set(id, typeof e === 'string' ? (JSON.parse(e) as VideoView) : e);
    return out;
  }

  /**
   * As {@link getMany}, but a hit that is a video's view with its tags (the usual one) comes back
   * as the text it was cached as, unparsed ({@link isViewText}).
   */
  private async entries(
    ids: number[],
    load: (ids: number[], primary: boolean) => Promise<VideoView[]>,
  ): Promise<Map<number, string | VideoView | null>> {
    const out = new Map<number, string | VideoView | null>();
    if (ids.length === 0) return out;
    const keys = ids.map((id) => CacheKeys.videoDetail(id));
    // The misses' change stamps are read before their loads: a change marked after that refuses
    // their fills. While pages often miss (a cold cache), with the entries, in the same command;
    // else after them, for the misses only (a warm page reads no stamps).
    const together = this.missShare >= MISS_SHARE_TOGETHER;
    let stampReadAt = Date.now();
    const first = together
      ? await this.store.mgetWithStamps(keys)
      : { values: await this.store.mget(keys), stamps: undefined };
    const raw = first.values;
    const misses: number[] = [];
    const refills: number[] = [];
    const uncached: number[] = [];
    /** The marker each refill read: its fill lands only over that one. */
    const seen = new Map<number, string>();
    ids.forEach((id, i) => {
      const value = raw[i];
      if (this.dirty.has(id)) return uncached.push(id);
      if (value === null || value === undefined) return misses.push(id);
      if (isViewText(value)) return out.set(id, value);
      const parsed = JSON.parse(value) as VideoView | RefillMark | null;
      if (isRefillMark(parsed)) {
        seen.set(id, value);
        return refills.push(id);
      }
      out.set(id, parsed === null ? null : parsed.tags ? parsed : { ...parsed, tags: [] });
    });
    this.missShare += ((misses.length > 0 ? 1 : 0) - this.missShare) / MISS_SHARE_PAGES;
    if (misses.length + refills.length + uncached.length === 0) return out;
    /** Each miss's change stamp; undefined when they could not be read (no fills). */
    let stampOf: Map<number, string | null> | undefined;
    if (together) {
      const stamps = first.stamps;
      if (stamps !== undefined) stampOf = new Map(ids.map((id, i) => [id, stamps[i] ?? null]));
    } else if (misses.length > 0) {
      stampReadAt = Date.now();
      const stamps = await this.store.changeStamps(misses.map((id) => CacheKeys.videoDetail(id)));
      if (stamps !== undefined) stampOf = new Map(misses.map((id, i) => [id, stamps[i] ?? null]));
    }
    const loaded = await Promise.all([
      misses.length > 0 ? load(misses, false) : [],
      refills.length > 0 ? load(refills, true) : [],
      uncached.length > 0 ? load(uncached, true) : [],
    ]);
    const key = (v: VideoView): string => CacheKeys.videoDetail(v.id);
    // The fills are not waited for: the page has its items, and each fill lands only over what
    // it was read against (its stamp, its marker), whenever it arrives.
    void Promise.all([
      ...(stampOf === undefined || !stampStillGuards(stampReadAt, STAMP_TTL_MS)
        ? []
        : [
            this.store.fillManyIfUnchanged(
              loaded[0].map((v) => ({
                key: key(v),
                stamp: stampOf?.get(v.id) ?? null,
                value: JSON.stringify(v),
              })),
              DETAIL_TTL_MS,
            ),
          ]),
      ...loaded[1].map((v) =>
        this.store.replaceIfEquals(key(v), seen.get(v.id) ?? '', JSON.stringify(v), DETAIL_TTL_MS),
      ),
    ]).catch(() => undefined);
    for (const v of [...loaded[0], ...loaded[1], ...loaded[2]]) out.set(v.id, v);
    for (const id of [...misses, ...refills, ...uncached]) if (!out.has(id)) out.set(id, null);
    return out;
  }

  /**
   * The items of an index's page, in the order of `ids` ({@link getMany}): each that was a hit in
   * the usual shape as the text it was cached as (`JSON.stringify` of the view, unparsed: a feed
   * page slices its item out of it, an author's page sends it as it is), any other as the view.
   * When some are gone (asked again of the primary: a replica may not have them yet),
   * `removeGone` takes those really gone out of the index and the answer is undefined (the
   * caller's SQL query answers). `onIds` is given the ids first (a viewer's liked lookup for them
   * goes out with the MGET).
   */
  async pageEntriesOf(
    ids: number[],
    load: (ids: number[], primary: boolean) => Promise<VideoView[]>,
    removeGone: (ids: number[]) => Promise<void>,
    onIds?: (ids: readonly number[]) => void,
  ): Promise<(string | VideoView)[] | undefined> {
    // Told before the MGET is sent: what the caller sends now leaves in the same Redis batch.
    onIds?.(ids);
    const entries = await this.entries(ids, load);
    const gone = ids.filter((id) => !entries.get(id));
    if (gone.length === 0) return ids.map((id) => entries.get(id) as string | VideoView);
    const there = new Set((await load(gone, true)).map((v) => v.id));
    await removeGone(gone.filter((id) => !there.has(id)));
    return undefined;
  }

  /**
   * Views a page has just read from SQL, its query sent at `readAt`: cached where there is no
   * entry and no change was marked within a stamp's lifetime (each a fill expecting no stamp, so a
   * change marked before it lands, the read's own time included, refuses it), so that the next
   * page listing these videos reads them from Redis. Not waited for; ids whose mark Redis refused
   * are left out.
   */
  offer(views: readonly VideoView[], readAt: number): void {
    if (!stampStillGuards(readAt, STAMP_TTL_MS)) return;
    const fills = views
      .filter((v) => !this.dirty.has(v.id))
      .map((v) => ({ key: CacheKeys.videoDetail(v.id), stamp: null, value: JSON.stringify(v) }));
    if (fills.length === 0) return;
    void this.store.fillManyIfUnchanged(fills, DETAIL_TTL_MS).catch(() => undefined);
  }

  /**
   * The key holds the marker `seen`: load from the primary (once per process and marker), and
   * cache that in place of that marker only.
   */
  private refill(id: number, seen: string, load: () => Promise<VideoView | null>): Promise<VideoView | null> {
    const running = this.refills.get(id);
    if (running?.seen === seen) return running.view;
    const view = (async () => {
      const v = await this.db.reads.onPrimary(load);
      // A gone video's negative entry outlives the replica window: no replica brings it back.
      const ttl = v === null ? Math.max(NEGATIVE_TTL_MS, this.db.reads.stickyMs) : DETAIL_TTL_MS;
      await this.store.replaceIfEquals(CacheKeys.videoDetail(id), seen, JSON.stringify(v), ttl);
      return v;
    })().finally(() => {
      if (this.refills.get(id)?.view === view) this.refills.delete(id);
    });
    this.refills.set(id, { seen, view });
    return view;
  }

  /**
   * Marks the videos changed ({@link markDetailsChanged}) and moves the {@link VideoListGeneration}
   * (pages listing these videos are stale too): `after` the marks, as its own write; `along` with
   * each mark, in the same step (one Redis server: the same script).
   */
  private async forget(ids: number[], generation: 'after' | 'along'): Promise<void> {
    const keys = ids.map((id) => CacheKeys.videoDetail(id));
    // A load of one of these that read the old row is no longer joined by later readers.
    for (const id of ids) this.refills.delete(id);
    this.aside.forget(...keys);
    // A new value per mark: a page built between two marks of the batch is unreachable after the second.
    const refused = await this.drop(ids, generation === 'along' ? () => this.generation.next() : undefined);
    for (const id of refused) this.markDirty(id);
    // After the marks: a page built under the new generation reads the changed entries (SharedPages
    // holds it for as long as the generation is current).
    if (generation === 'after') await this.generation.bump();
  }

  /** Marks the videos changed; resolves the ids Redis refused. */
  private drop(ids: number[], also?: () => AlsoSet): Promise<number[]> {
    return markDetailsChanged(this.store, this.db, ids, also);
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
    return this.invalidateWith(ids, 'after');
  }

  private async invalidateWith(ids: number[], generation: 'after' | 'along'): Promise<void> {
    if (ids.length === 0) return;
    await this.forget(ids, generation);
    for (const id of ids) this.pending.add(id);
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), SECOND_DELETE_MS);
      this.timer.unref();
    }
  }

  /**
   * Once the transaction of `ctx` commits: `invalidate` of every id the batch named, in one call,
   * each mark carrying a new generation (no round trip of its own: a count's answer waits for
   * these marks). The batch's likes-count index marks carry one too
   * ({@link LikesCountIndex.markAfterCommit}); its hot buckets need none (SPEC §6 lets activity
   * show within the shared page's 5 s).
   */
  invalidateAfterCommit(ctx: ApplyContext, id: number): void {
    ctx
      .afterCommit('video.detail', () => new DetailInvalidation((ids) => this.invalidateWith(ids, 'along')))
      .ids.add(id);
  }

  private async flush(): Promise<void> {
    this.timer = null;
    const ids = [...this.pending];
    this.pending = new Set();
    if (ids.length > 0) await this.forget(ids, 'after');
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
  constructor(private readonly invalidate: (ids: number[]) => Promise<void>) {}
  run(): Promise<void> {
    return this.invalidate([...this.ids]);
  }
}
