import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import {
  beginBuild,
  BUILD_TTL_MS,
  CacheKeys,
  CacheStore,
  finishGuardedBuild,
  FLOOR_HINT_MS,
  GuardedIndexKeys,
  INDEX_TTL_MS,
  indexMember,
  IndexRead,
  newer,
  pushGuardedEntry,
  readIndex,
  REPAIR_EVERY_MS,
} from '@app/cache';
import { APP_CONFIG, DependencyUnavailableError, ExpiringMap, type AppConfig } from '@app/core';
import { AuthorIndex, VideoDetailCache, VideoRepository } from '@app/video';
import { FeedRepository, RowsOf } from './feed.repository';
import { mergeFollowed } from './following-merge';
import { dropParts, PART_KEY_LIMIT, readParts, writePart } from './timeline-parts';
import { entryRow, PageRow } from './feed.types';

/**
 * A query's ids as rows from the videos' `getDetail` entries (one MGET, misses loaded together by
 * primary key); from the primary, or when one of them is gone, by primary key.
 */
export function rowsFromDetails(
  items: VideoDetailCache,
  videos: VideoRepository,
  repo: FeedRepository,
): RowsOf {
  return async (ids, primary) => {
    if (primary || ids.length === 0) return repo.inOrder(ids, primary);
    const entries = await items.pageEntriesOf(
      ids,
      (missing, p) => videos.viewsByIds(missing, p),
      () => Promise.resolve(),
    );
    return entries?.map(entryRow) ?? repo.inOrder(ids);
  };
}

/**
 * Told the ids of a page's items before they are read (`VideoDetailCache.pageEntriesOf`): the feed sends
 * the viewer's liked lookup for them in the same Redis batch.
 */
export type IdsSeen = (ids: readonly number[]) => void;

export const TIMELINE_TTL_MS = INDEX_TTL_MS;
/** Following feed entries loaded into a deep part of a timeline at once. */
export const TIMELINE_PART = 200;
/**
 * A deep part is kept only below a cursor this much older than now: a video committed late (its
 * `create_time` taken before a slow commit) lands above it, never inside a part already loaded.
 */
export const TIMELINE_PART_SETTLE_MS = 60_000;
/** Followers pushed per Redis round (each a script call; all of a round are sent at once). */
const FANOUT_CHUNK = 500;

/** A published video, as the fan-out needs it. */
export interface PublishedVideo {
  videoId: number;
  authorId: number;
  createTime: number;
}

export const timelineMember = indexMember;

/**
 * Following timelines in Redis, hybrid push/pull (issue 14). Per follower a sorted set of the ids
 * of the followed authors' videos (score = create_time ms, members zero-padded so ties order by
 * id), at most `TIMELINE_MAX_LENGTH` newest, built from the database on first read and then filled
 * on publish by the `video.publish` handler ({@link fanOut}) for authors with at most
 * `FANOUT_MAX_FOLLOWERS` followers; the videos of bigger authors are merged at read time from the
 * per-author index. A page is answered from the timeline only when the timeline can prove it
 * complete for that page; else (and without Redis, or with timelines off) the caller uses the SQL
 * pull. A page's items are the videos' `getDetail` entries (one MGET, misses loaded together), so a
 * page within the timeline asks nothing of the database; a deleted video is removed from the
 * timeline and that page comes from SQL.
 *
 * Only followed authors' videos are in a timeline: a follow or unfollow drops it before it answers
 * (rebuilt on the next read), and a timeline keeps the set of accounts its owner followed when its
 * build began, so a fan-out whose follower list was read before an unfollow pushes nothing into the
 * timeline rebuilt after it (pushes that come while a build runs are checked when it ends,
 * {@link pushGuardedEntry}). A drop Redis refused is retried every 250 ms ({@link repair}); until
 * then this process reads that follower's feed from SQL.
 *
 * A page the timeline does not answer (past or across its floor, a gone item, an owed version
 * bump) whose cursor is settled comes from the timeline's deep parts ({@link deep}): runs of the
 * feed past the timeline loaded from the database `TIMELINE_PART` at a time and kept
 * (`TIMELINE_DEEP_MAX_LENGTH` entries per viewer at most). One the parts cannot answer (a cursor
 * of the last minute, parts off) is merged in Redis from the followed authors' time indexes
 * ({@link AuthorIndex}) when the timeline's follow set holds at most `TIMELINE_MERGE_MAX_FOLLOWS`
 * accounts ({@link merged}); else, or when an author's index cannot prove its part complete, it is
 * the SQL pull. (Parts come first: a page from a part costs Redis one read of one packed string,
 * the merge one range read per followed author, about 100 µs of Redis for 10.)
 */
@Injectable()
export class Timelines implements OnModuleDestroy {
  private readonly logger = new Logger(Timelines.name);
  private readonly cap: number;
  private readonly maxFollowers: number;
  private readonly mergeMax: number;
  private readonly deepMax: number;
  /** Viewers whose follow set was too big to merge at their last deep page: SQL without asking, for 5 s. */
  private readonly noMerge = new ExpiringMap<true>(10_000);
  private readonly building = new Map<number, Promise<void>>();
  /**
   * Per viewer, the floor's ms seen by this process's last read (0 = complete): a cursor strictly
   * below it cannot be answered by the timeline (every entry is at or above the floor), so such a
   * page goes to SQL without a Redis round. A stale hint only sends a page to SQL, never a wrong one.
   */
  private readonly floorHints = new ExpiringMap<number>(10_000);
  /** Followers whose timeline drop Redis refused: read from SQL here until it is dropped. */
  private readonly dirty = new Set<number>();
  /** A fan-out Redis refused: every timeline may lack a video until the version is bumped. */
  private versionBumpOwed = false;
  private repairTimer: NodeJS.Timeout | undefined;
  private readonly rowsOf: RowsOf;

  constructor(
    private readonly store: CacheStore,
    private readonly repo: FeedRepository,
    private readonly items: VideoDetailCache,
    private readonly videos: VideoRepository,
    private readonly authors: AuthorIndex,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.rowsOf = rowsFromDetails(items, videos, repo);
    this.cap = config.timelineMaxLength;
    this.maxFollowers = config.fanoutMaxFollowers;
    this.mergeMax = config.timelineMergeMaxFollows;
    this.deepMax = config.timelineDeepMaxLength;
  }

  /** Only with Redis and a length bound (the in-process store has nothing to share between processes). */
  get enabled(): boolean {
    return this.store.kind === 'redis' && this.cap > 0;
  }

  /**
   * The viewer's following rows past the cursor, `take` of them (or all there are), from its
   * timeline, else its deep parts ({@link deep}), else merged from the followed authors' time
   * indexes ({@link merged}); `undefined` when none can answer (the caller pulls from SQL).
   * `onIds` is told each candidate page's item ids before their entries are read.
   */
  async page(
    viewerId: number,
    take: number,
    latestTime: number,
    idBefore: number,
    onIds?: IdsSeen,
  ): Promise<PageRow[] | undefined> {
    if (!this.enabled || this.dirty.has(viewerId)) return undefined;
    return (
      (await this.fromTimeline(viewerId, take, latestTime, idBefore, onIds)) ??
      (await this.deep(viewerId, take, latestTime, idBefore, onIds)) ??
      (await this.merged(viewerId, take, latestTime, idBefore, onIds))
    );
  }

  /**
   * A page below a settled cursor ({@link TIMELINE_PART_SETTLE_MS}) from the viewer's deep parts
   * (libs/feed/src/timeline-parts.ts): on a miss the next `TIMELINE_PART` entries below the cursor
   * are loaded from the primary (index only), kept as a part under the token the miss read (a
   * follow or unfollow since then dropped the parts, and refuses it), and the page is their first
   * `take`. The items come from their `getDetail` entries; a gone one drops the parts read and
   * sends the page to SQL. Undefined when Redis cannot say (the SQL pull answers).
   */
  private async deep(
    viewerId: number,
    take: number,
    latestTime: number,
    idBefore: number,
    onIds?: IdsSeen,
  ): Promise<PageRow[] | undefined> {
    if (this.deepMax === 0 || latestTime <= 0 || latestTime > Date.now() - TIMELINE_PART_SETTLE_MS) {
      return undefined;
    }
    // A cursor id past a key's 15 digits (a client's invention: no video has one) is SQL's.
    if (idBefore >= PART_KEY_LIMIT) return undefined;
    const read = await readParts(this.store, viewerId, take, latestTime, idBefore);
    if (read === undefined) return undefined;
    let entries = read.kind === 'ok' ? read.entries : undefined;
    const parts = read.kind === 'ok' ? read.parts : [];
    if (entries === undefined) {
      const want = Math.max(TIMELINE_PART, take);
      const loaded = await this.repo.followingKeys(viewerId, want, latestTime, idBefore);
      await writePart(
        this.store,
        viewerId,
        read.token,
        latestTime,
        idBefore,
        loaded,
        loaded.length < want,
        this.deepMax,
      );
      entries = loaded.slice(0, take);
    }
    const found = await this.items.pageEntriesOf(
      entries.map((e) => e.id),
      (missing, primary) => this.videos.viewsByIds(missing, primary),
      () => dropParts(this.store, viewerId, parts),
      onIds,
    );
    // A deleted video: its parts dropped (pageEntriesOf asked the primary first), this page from SQL.
    return found?.map(entryRow);
  }

  private async fromTimeline(
    viewerId: number,
    take: number,
    latestTime: number,
    idBefore: number,
    onIds?: IdsSeen,
  ): Promise<PageRow[] | undefined> {
    if (this.versionBumpOwed) return undefined;
    const hint = this.floorHints.get(String(viewerId));
    if (latestTime > 0 && hint !== undefined && latestTime < hint) return undefined;
    // The current version comes with the read (the same script on one Redis server).
    let read = await this.read(viewerId, take, latestTime, idBefore, CacheKeys.timelineVersion());
    if (read === undefined || read.kind === 'building') return undefined;
    if (read.kind === 'miss' || read.version !== read.current) {
      await this.build(viewerId, read.kind === 'ok' ? read.token : '');
      read = await this.read(viewerId, take, latestTime, idBefore);
      if (read === undefined || read.kind !== 'ok') return undefined;
    }
    this.floorHints.set(String(viewerId), read.floor?.time ?? 0, Date.now() + FLOOR_HINT_MS);
    return this.assemble(viewerId, take, latestTime, idBefore, read, onIds);
  }

  private async assemble(
    viewerId: number,
    take: number,
    latestTime: number,
    idBefore: number,
    read: Extract<IndexRead, { kind: 'ok' }>,
    onIds?: IdsSeen,
  ): Promise<PageRow[] | undefined> {
    const ids = read.entries.map((e) => e.id);
    const big = read.extra.split(',').filter(Boolean).map(Number);
    const [found, bigRows] = await Promise.all([
      this.items.pageEntriesOf(
        ids,
        (missing, primary) => this.videos.viewsByIds(missing, primary),
        (gone) => this.removeGone(viewerId, gone),
        onIds,
      ),
      big.length > 0
        ? this.repo.byAuthors(big, take, latestTime, idBefore, false, this.rowsOf)
        : Promise.resolve([]),
    ]);
    // A deleted video: out of the timeline (pageEntriesOf asked the primary first), this page from SQL.
    if (found === undefined) return undefined;
    const byId = new Map<number, PageRow>(found.map((e) => entryRow(e)).map((r) => [Number(r.id), r]));
    for (const r of bigRows) byId.set(Number(r.id), r);
    const merged = [...byId.values()]
      .map((r) => ({ row: r, key: { id: Number(r.id), time: Number(r.create_time) } }))
      .sort((a, b) => newer(a.key, b.key))
      .slice(0, take);
    // Complete: the timeline gave a full page, or holds everything, or the page ends at or above its floor.
    const last = merged[merged.length - 1]?.key;
    const complete =
      read.entries.length >= take ||
      read.floor === null ||
      (merged.length >= take && last !== undefined && newer(last, read.floor) <= 0);
    return complete ? merged.map((m) => m.row) : undefined;
  }

  /**
   * The page merged in Redis from the followed authors' time indexes ({@link mergeFollowed}): the
   * follows are the timeline's follow set, which a follow or unfollow drops before it answers
   * (read-your-writes); a missing timeline is built first. Without a ready timeline, with more follows than
   * `TIMELINE_MERGE_MAX_FOLLOWS`, with an author index missing (built meanwhile) or not provably
   * complete for the page, on a Redis Cluster: undefined (the SQL pull answers).
   */
  private async merged(
    viewerId: number,
    take: number,
    latestTime: number,
    idBefore: number,
    onIds?: IdsSeen,
  ): Promise<PageRow[] | undefined> {
    if (this.mergeMax === 0 || !this.authors.timeEnabled) return undefined;
    if (this.noMerge.get(String(viewerId)) !== undefined) return undefined;
    const merge = () =>
      mergeFollowed(
        this.store,
        CacheKeys.timelineMeta(viewerId),
        CacheKeys.timelineFollows(viewerId),
        take,
        latestTime,
        idBefore,
        this.mergeMax,
        this.authors.timeDistrusted(),
      );
    let merged = await merge();
    if (merged?.kind === 'none') {
      // No timeline (a follow or unfollow dropped it; this page skipped it by its floor): built
      // here, for its follow set, as a page within it would.
      await this.build(viewerId, '');
      merged = await merge();
    }
    if (merged?.kind === 'many') this.noMerge.set(String(viewerId), true, Date.now() + FLOOR_HINT_MS);
    if (merged?.kind === 'miss') this.authors.buildTime(merged.authors);
    if (merged?.kind !== 'ok') return undefined;
    const authorOf = new Map(merged.entries.map((e) => [e.id, e.authorId]));
    const found = await this.items.pageEntriesOf(
      merged.entries.map((e) => e.id),
      (missing, primary) => this.videos.viewsByIds(missing, primary),
      async (gone) => {
        await Promise.all(gone.map((id) => this.authors.remove(authorOf.get(id) ?? 0, [id])));
      },
      onIds,
    );
    // A deleted video: out of its author's indexes (pageEntriesOf asked the primary first), this page from SQL.
    return found?.map(entryRow);
  }

  private async removeGone(viewerId: number, gone: number[]): Promise<void> {
    if (gone.length === 0) return;
    await this.store.withRedis(
      (redis, prefix) => redis.zrem(prefix + CacheKeys.timeline(viewerId), ...gone.map(timelineMember)),
      false,
      false,
      [],
    );
  }

  private read(
    viewerId: number,
    take: number,
    latestTime: number,
    idBefore: number,
    versionKey?: string,
  ): Promise<IndexRead | undefined> {
    return readIndex(this.store, timelineKeys(viewerId), take, latestTime, idBefore, versionKey);
  }

  /** The current timeline version ('0' before any bump); undefined when Redis cannot say. */
  private async version(): Promise<string | undefined> {
    const v = await this.store.withRedis(
      (redis, prefix) => redis.get(prefix + CacheKeys.timelineVersion()),
      false,
      false,
      [],
    );
    return v === undefined ? undefined : (v ?? '0');
  }

  /** One build per viewer per process at a time (a concurrent one elsewhere makes this one a no-op). */
  private build(viewerId: number, staleToken: string): Promise<void> {
    const running = this.building.get(viewerId);
    if (running) return running;
    const p = this.buildOnce(viewerId, staleToken)
      .catch((err: unknown) => this.logger.warn(`timeline build for ${viewerId} failed: ${String(err)}`))
      .finally(() => this.building.delete(viewerId));
    this.building.set(viewerId, p);
    return p;
  }

  private async buildOnce(viewerId: number, staleToken: string): Promise<void> {
    const keys = timelineKeys(viewerId);
    const token = randomUUID();
    if (!(await beginBuild(this.store, keys, token, BUILD_TTL_MS, staleToken))) return;
    // In this order: an author turned big after the version was read leaves a stale version. The
    // follows after the build began: an unfollow that answered before is not in them.
    const version = await this.version();
    const follows = await this.repo.followedAuthors(viewerId);
    const big = await this.bigAmong(follows);
    if (version === undefined || big === undefined) return;
    // The primary: pushes cover only what committed after this read.
    const rows = await this.repo.following(viewerId, this.cap + 1, 0, 0, true);
    await finishGuardedBuild(this.store, keys, {
      token,
      ttlMs: TIMELINE_TTL_MS,
      cap: this.cap,
      all: rows.length <= this.cap,
      version,
      extra: big.join(','),
      follows,
      entries: rows.slice(0, this.cap).map((r) => ({ time: Number(r.create_time), id: Number(r.id) })),
    });
  }

  /** The big ones among `follows` (never pushed, merged at read); undefined when Redis cannot say. */
  private async bigAmong(follows: number[]): Promise<number[] | undefined> {
    if (follows.length === 0) return [];
    const key = CacheKeys.timelineBigAuthors();
    const flags = await this.store.withRedis(
      (redis, prefix) => redis.smismember(prefix + key, ...follows),
      false,
      false,
      [],
    );
    return flags === undefined ? undefined : follows.filter((_, i) => flags[i] === 1);
  }

  /**
   * The `video.publish` handler's effect: each video into its author's followers' timelines (those
   * that exist), or, for an author with more than `FANOUT_MAX_FOLLOWERS`, the author marked big (a
   * new big author makes every timeline rebuild, since those built before would not merge it).
   * A round Redis refuses leaves every timeline possibly short: the version is bumped once Redis
   * takes it (until then this process reads no timeline), and the effect throws, so the worker
   * applies the event again later (its pushes are idempotent).
   */
  async fanOut(videos: PublishedVideo[]): Promise<void> {
    if (!this.enabled) return;
    let failed = false;
    for (const v of videos) {
      const followers = await this.repo.followerIds(v.authorId, this.maxFollowers + 1);
      if (followers.length > this.maxFollowers) {
        failed = !(await this.markBig(v.authorId)) || failed;
        continue;
      }
      for (let i = 0; i < followers.length; i += FANOUT_CHUNK) {
        const chunk = followers.slice(i, i + FANOUT_CHUNK);
        const ok = await this.store.withRedis((redis, prefix) =>
          Promise.all(
            chunk.map((f) =>
              pushGuardedEntry(
                redis,
                timelineKeys(f)(prefix),
                { time: v.createTime, id: v.videoId },
                v.authorId,
                this.cap,
              ),
            ),
          ),
        );
        if (ok === undefined) {
          failed = true;
          this.owe();
        }
      }
    }
    if (failed) {
      throw new DependencyUnavailableError('redis', `timelines not filled for ${videos.length} videos`);
    }
  }

  /** False when Redis refused (then a version bump is owed). */
  private async markBig(authorId: number): Promise<boolean> {
    const added = await this.store.withRedis((redis, prefix) =>
      redis.sadd(prefix + CacheKeys.timelineBigAuthors(), String(authorId)),
    );
    if (added === undefined || (added === 1 && !(await this.bumpVersion()))) {
      this.owe();
      return false;
    }
    return true;
  }

  /** A follow or unfollow committed: the follower's timeline is dropped (rebuilt on its next read). */
  async drop(followerId: number): Promise<void> {
    if (!this.enabled) return;
    if (!(await this.store.del(...droppedKeys(followerId)))) {
      this.dirty.add(followerId);
      this.scheduleRepair();
    }
  }

  /**
   * The `social.follow` / `social.unfollow` handlers' effect (the worker; in-process without a
   * broker): the followers' timelines dropped once more, after the event's commit. The request
   * dropped them before it answered ({@link drop}); this covers a drop Redis refused whose process
   * ended before its retry landed, which would otherwise leave a timeline with the old follows
   * until its TTL (with a broker: the event comes from the outbox, whatever became of the request's
   * process). A timeline rebuilt in between is dropped too (one more build). Throws
   * {@link DependencyUnavailableError} when Redis refuses, so the worker applies the event again
   * once Redis is back (without a broker the failure is logged, as every after-commit effect's).
   */
  async dropApplied(followerIds: number[]): Promise<void> {
    if (!this.enabled || followerIds.length === 0) return;
    if (!(await this.store.del(...followerIds.flatMap(droppedKeys)))) {
      throw new DependencyUnavailableError('redis', `${followerIds.length} timeline(s) not dropped`);
    }
  }

  private async bumpVersion(): Promise<boolean> {
    const v = await this.store.withRedis((redis, prefix) => redis.incr(prefix + CacheKeys.timelineVersion()));
    return v !== undefined;
  }

  private owe(): void {
    this.versionBumpOwed = true;
    this.scheduleRepair();
  }

  private scheduleRepair(): void {
    this.repairTimer ??= setInterval(() => void this.repair(), REPAIR_EVERY_MS);
    this.repairTimer.unref();
  }

  private async repair(): Promise<void> {
    if (this.versionBumpOwed) {
      if (!(await this.bumpVersion())) return;
      this.versionBumpOwed = false;
    }
    for (const id of [...this.dirty]) {
      if (!(await this.store.del(...droppedKeys(id)))) return;
      this.dirty.delete(id);
    }
    if (this.repairTimer) clearInterval(this.repairTimer);
    this.repairTimer = undefined;
    this.logger.log('timeline repairs caught up');
  }

  onModuleDestroy(): void {
    if (this.repairTimer) clearInterval(this.repairTimer);
  }
}

function timelineKeys(viewerId: number): GuardedIndexKeys {
  return (prefix) => [
    prefix + CacheKeys.timeline(viewerId),
    prefix + CacheKeys.timelineMeta(viewerId),
    prefix + CacheKeys.timelineFollows(viewerId),
    prefix + CacheKeys.timelinePending(viewerId),
  ];
}

/** What a follow or unfollow drops (unprefixed): the timeline's four keys and its deep parts. */
function droppedKeys(viewerId: number): string[] {
  return [
    ...timelineKeys(viewerId)(''),
    CacheKeys.timelineParts(viewerId),
    CacheKeys.timelinePartsDir(viewerId),
  ];
}
