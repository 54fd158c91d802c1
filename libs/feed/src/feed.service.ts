import { Injectable, OnModuleInit } from '@nestjs/common';
import { AccountRenameHooks } from '@app/account';
import { CacheAside, CacheKeys } from '@app/cache';
import { ExpiringMap, fieldError, validationError } from '@app/core';
import { LikedSets } from '@app/like';
import { FollowHooks } from '@app/social';
import {
  LikesCountIndex,
  normalizeTagName,
  VideoDeleteHooks,
  VideoDetailCache,
  VideoPublishHooks,
  VideoRepository,
} from '@app/video';
import { CachedPage, FeedPageCache, packPage, unpackPage, withLiked } from './feed-page-cache';
import { FeedRepository, RowsOf } from './feed.repository';
import { HotListService } from './hot-list.service';
import { LatestIndex } from './latest-index';
import { SharedPages } from './shared-pages';
import { TagIndex } from './tag-index';
import { IdsSeen, rowsFromDetails, Timelines } from './timelines';
import {
  clampLimit,
  FEED_CACHE_TTL_MS,
  FEED_MAX_LIMIT,
  FeedVideoItem,
  LikesCountPage,
  LikesCountQuery,
  PopularityPage,
  PopularityQuery,
  TimeCursorQuery,
  TimePage,
  entryRow,
  PageRow,
} from './feed.types';
import { likesCountPageOf, timePageOf } from './page-json';

/**
 * The ids of a serialised page's items, without parsing it: every item is written by
 * {@link toFeedItem} as `{"id":<n>,"author":…`, and inside a JSON string a quote is always
 * escaped (`\"`), so no title or name can produce that text.
 */
const ITEM_ID = /\{"id":(\d+),"author":/g;
export function pageIds(json: string): number[] {
  const ids: number[] = [];
  for (const m of json.matchAll(ITEM_ID)) ids.push(Number(m[1]));
  return ids;
}

/**
 * The likes-count cursor (SPEC §3.6): undefined for the first page (no cursor, or
 * `likes_count_before` 0 alone); 400 when `likes_count_before` and `id_before` do not come together.
 */
function likesCountCursor(q: LikesCountQuery): { likes: number; id: number } | undefined {
  const hasCount = q.likesCountBefore !== undefined && q.likesCountBefore !== null;
  const hasId = q.idBefore !== undefined && q.idBefore !== null && q.idBefore > 0;
  const firstPage = !hasId && (!hasCount || q.likesCountBefore === 0);
  if (firstPage) return undefined;
  if (!(hasCount && hasId)) {
    throw validationError('likes_count_before and id_before must be sent together', [
      {
        field: hasCount ? 'id_before' : 'likes_count_before',
        message: 'likes_count_before and id_before must be sent together',
      },
    ]);
  }
  return { likes: q.likesCountBefore ?? 0, id: q.idBefore ?? 0 };
}

/** A page's bytes with its video ids (the ids a viewer's `is_liked` is looked up for). */
function cachedPage(page: { video_list: FeedVideoItem[] }): CachedPage {
  return { json: JSON.stringify(page), ids: page.video_list.map((v) => v.id) };
}

/** The page's JSON with `is_liked` true on the items in `liked` (the bytes as they are when none is). */
function likedJson(page: CachedPage, liked: ReadonlySet<number>): string {
  if (liked.size === 0) return page.json;
  const patched = withLiked(page, liked);
  if (patched !== undefined) return patched;
  const parsed = JSON.parse(page.json) as { video_list: FeedVideoItem[] };
  for (const i of parsed.video_list) i.is_liked = liked.has(i.id);
  return JSON.stringify(parsed);
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

/** Whether every id of `ids` is among `asked` (a lookup of `asked` answers for `ids` too). */
function covers(asked: readonly number[], ids: readonly number[]): boolean {
  if (ids.length > asked.length) return false;
  if (sameIds(asked.slice(0, ids.length), ids)) return true;
  const set = new Set(asked);
  return ids.every((id) => set.has(id));
}

/**
 * Videos this process deleted are remembered this long (the page cache's TTL and a margin): a cached
 * latest or following page that still lists one is dropped and rebuilt instead of served.
 */
const DELETED_MEMORY_MS = FEED_CACHE_TTL_MS + 2000;

/** Pages whose last ids are remembered for {@link FeedService.viewerJson} (the oldest dropped first), and for how long. */
const LAST_IDS_MAX = 20_000;
const LAST_IDS_TTL_MS = 60_000;
/** Following pages whose text and ids are remembered for 5 s (a page is a few KB; the oldest dropped first). */
const FOLLOWING_READ_MAX = 2000;

/** After a follow, a publish or a rename, its pages are dropped again this much later (a rebuild racing the write). */
const SECOND_DROP_MS = 500;

/**
 * The latest, likes-count, following (SPEC §3.6) and tag (§8.3) feeds. The viewer-independent
 * page is built once and shared: latest and following pages are cached (SPEC §5, 5 s, rebuilt under
 * a lock with in-process singleflight; deeper pages an index or timeline answers are not),
 * likes-count, tag and popularity pages are shared under the video-list generation
 * ({@link SharedPages}); `is_liked` is then filled per viewer from its liked set or with one
 * batched query.
 */
@Injectable()
export class FeedService implements OnModuleInit {
  /** Pre-serialised anonymous latest pages, for the HTTP fast path. */
  readonly latestPages = new FeedPageCache();
  /** Videos deleted through this process in the last {@link DELETED_MEMORY_MS}. */
  private readonly deletedIds = new ExpiringMap<true>(10_000);
  /** When the last of {@link deletedIds} expires (then the map is cleared: no page is checked). */
  private deletedUntil = 0;
  /** The SQL pull's rows from the `getDetail` entries (the per-author plans select ids only). */
  private readonly detailRows: RowsOf;
  /** The ids each viewer page listed when this process last served it ({@link viewerJson}'s guess). */
  private readonly lastIds = new ExpiringMap<readonly number[]>(LAST_IDS_MAX);
  /** The following pages this process last read from the cache, with their ids (parsed once per text). */
  private readonly followingRead = new ExpiringMap<CachedPage>(FOLLOWING_READ_MAX);

  constructor(
    private readonly repo: FeedRepository,
    private readonly cache: CacheAside,
    private readonly likedSets: LikedSets,
    private readonly shared: SharedPages,
    private readonly hot: HotListService,
    private readonly timelines: Timelines,
    private readonly latestIndex: LatestIndex,
    private readonly tagIndex: TagIndex,
    private readonly items: VideoDetailCache,
    private readonly videos: VideoRepository,
    private readonly likesIndex: LikesCountIndex,
    follows: FollowHooks,
    published: VideoPublishHooks,
    deleted: VideoDeleteHooks,
    private readonly renamed: AccountRenameHooks,
  ) {
    this.detailRows = rowsFromDetails(items, videos, repo);
    follows.registerAfterCommit((followerId) => this.dropFollowingPages(followerId));
    published.registerAfterCommit(async (v) => {
      await Promise.all([latestIndex.push([{ id: v.id, time: v.createTime }]), tagIndex.push([v])]);
      // After the index has it: the next first page (rebuilt) lists it, for the publisher at once.
      await this.dropLatestFirstPages(true);
    });
    deleted.registerAfterCommit(async (v) => {
      // SPEC §3.2: a delete removes the video from every feed. The indexes lose it here; the
      // cached first pages (this process's copies and Redis's) are dropped, and any cached page
      // read later that still lists it (built before the delete, or deeper) is rebuilt.
      this.deletedUntil = Date.now() + DELETED_MEMORY_MS;
      this.deletedIds.set(String(v.id), true, this.deletedUntil);
      await Promise.all([latestIndex.remove([v.id]), tagIndex.remove(v.tags, [v.id])]);
      // After the indexes lost it, so no rebuild from the old index lands after these drops.
      await this.dropLatestFirstPages();
    });
  }

  onModuleInit(): void {
    // A rename (SPEC §7.5: the caller's own, at once): the first latest pages cached before it show
    // the old name, so they are dropped, and again shortly after (a rebuild that read the old
    // names may store its page in between). Registered here, not in the constructor, so it runs
    // after the video module's hook (its `onModuleInit` runs first: this module imports it), which
    // drops the author's `getDetail` entries that pages are built from.
    this.renamed.registerAfterCommit(() => this.dropLatestFirstPages(true));
  }

  /**
   * This process's copies of the latest pages, and the first pages (every limit) in the cache;
   * `again`: once more shortly after, since a rebuild that read before the write may store its
   * page in between.
   */
  private async dropLatestFirstPages(again = false): Promise<void> {
    this.latestPages.clear();
    const firstPages = Array.from({ length: FEED_MAX_LIMIT }, (_, i) => CacheKeys.latestFeed(i + 1, '0'));
    await this.cache.invalidate(...firstPages);
    if (again) setTimeout(() => void this.dropLatestFirstPages(), SECOND_DROP_MS).unref();
  }

  /**
   * A follow or unfollow of `followerId` answered: its timeline and its first following pages
   * (every limit) are dropped before it answers, and the pages again shortly after, since a
   * rebuild that read the old follows may store its page in between (as the detail cache does).
   * Deeper pages follow within their TTL.
   */
  private async dropFollowingPages(followerId: number): Promise<void> {
    await this.timelines.drop(followerId);
    const keys = Array.from({ length: FEED_MAX_LIMIT }, (_, i) =>
      CacheKeys.followingFeed(i + 1, followerId, '0'),
    );
    await this.cache.invalidate(...keys);
    setTimeout(() => void this.cache.invalidate(...keys), SECOND_DROP_MS).unref();
  }

  /** The cache key of an anonymous latest page (normalised request). */
  static latestKey(q: TimeCursorQuery): string {
    return CacheKeys.latestFeed(q.limit, q.latestTime > 0 ? `${q.latestTime}:${q.idBefore}` : '0');
  }

  /** Normalises `{limit, latest_time, id_before}` (already checked non-negative integers). */
  static timeQuery(
    limit?: number | null,
    latestTime?: number | null,
    idBefore?: number | null,
  ): TimeCursorQuery {
    const lt = latestTime ?? 0;
    return { limit: clampLimit(limit), latestTime: lt, idBefore: lt > 0 ? (idBefore ?? 0) : 0 };
  }

  /** The anonymous page as its exact JSON bytes (shared by every viewer, cached 5 s). */
  async latestJson(q: TimeCursorQuery): Promise<string> {
    return (await this.latestPage(q)).json;
  }

  /**
   * The anonymous page with its ids (SPEC §5: the anonymous latest feed is the one cached 5 s): a
   * deeper page straight from the latest index when it can answer (no page cache: a deep cursor is
   * rarely asked twice); else, and for the first page, this process's copy, else Redis, else built
   * under the lock (from the index, else the database). `onIds` is told a deeper page's ids before
   * its items are read.
   */
  private async latestPage(q: TimeCursorQuery, onIds?: IdsSeen): Promise<CachedPage> {
    const key = FeedService.latestKey(q);
    const local = this.latestPages.get(key);
    if (local !== undefined) return local;
    if (q.latestTime > 0) {
      const rows = await this.latestFromIndex(q, onIds);
      if (rows !== undefined) return timePageOf(rows, q);
    }
    const raw = await this.freshCached(key, () =>
      this.cache.getOrLoadRaw(key, { ttlMs: FEED_CACHE_TTL_MS, name: 'feed_latest' }, async () =>
        packPage(Date.now(), timePageOf(await this.latestRows(q), q).json),
      ),
    );
    const { builtAt, json } = unpackPage(raw);
    const page: CachedPage = { json, ids: pageIds(json) };
    this.latestPages.set(key, page, builtAt + FEED_CACHE_TTL_MS);
    return page;
  }

  /**
   * A logged-in viewer's page, before its `is_liked`: not the anonymous 5 s page (SPEC §5 caches
   * the anonymous feed only, and §7.5 wants the caller's own like, comment, publish, delete and
   * rename at once) but a shared page ({@link SharedPages}, as the likes-count and tag pages):
   * built from the latest index's ids and the items' `getDetail` entries (else the query), held
   * while no listed video has changed. `onIds` as {@link tagPage}'s.
   */
  private viewerLatestPage(q: TimeCursorQuery, onIds?: IdsSeen): Promise<CachedPage> {
    return this.shared.get(`latest:${q.limit}:${q.latestTime}:${q.idBefore}`, async () =>
      timePageOf(
        (await this.latestFromIndex(q, onIds)) ??
          (await this.repo.latest(q.limit + 1, q.latestTime, q.idBefore)),
        q,
      ),
    );
  }

  /**
   * A cached page's text from `read`, read once more after dropping it when it lists a video this
   * process deleted lately (the rebuild reads indexes and tables the delete already left).
   */
  private async freshCached(key: string, read: () => Promise<string>): Promise<string> {
    const raw = await read();
    if (this.deletedIds.size === 0) return raw;
    if (Date.now() >= this.deletedUntil) {
      this.deletedIds.clear();
      return raw;
    }
    if (!pageIds(raw).some((id) => this.deletedIds.get(String(id)))) return raw;
    await this.cache.invalidate(key);
    return read();
  }

  /** The page's rows (and one more) from the latest index when it can answer, else the SQL query. */
  async latestRows(q: TimeCursorQuery): Promise<PageRow[]> {
    return (await this.latestFromIndex(q)) ?? (await this.repo.latest(q.limit + 1, q.latestTime, q.idBefore));
  }

  /** The page's rows from the latest index, the items from their `getDetail` entries; undefined = ask SQL. */
  private async latestFromIndex(q: TimeCursorQuery, onIds?: IdsSeen): Promise<PageRow[] | undefined> {
    const ids = await this.latestIndex.ids(q.limit + 1, q.latestTime, q.idBefore);
    return this.indexRows(ids, (gone) => this.latestIndex.remove(gone), onIds);
  }

  /**
   * An index page's rows: the items from their cached entries (`getDetail`'s, one MGET; misses
   * loaded together). An id whose video is gone is removed from the index by `removeGone` and
   * that page is left to SQL ({@link VideoDetailCache.pageEntriesOf}, which tells `onIds` the ids first).
   */
  private async indexRows(
    ids: number[] | undefined,
    removeGone: (ids: number[]) => Promise<void>,
    onIds?: IdsSeen,
  ): Promise<PageRow[] | undefined> {
    if (ids === undefined) return undefined;
    const entries = await this.items.pageEntriesOf(
      ids,
      (missing, primary) => this.videos.viewsByIds(missing, primary),
      removeGone,
      onIds,
    );
    return entries?.map(entryRow);
  }

  /**
   * A viewer's latest page as JSON: the shared page's bytes as they are when the viewer likes
   * none of its videos (the usual case), else the page with those `is_liked` set.
   */
  async latestJsonFor(q: TimeCursorQuery, viewerId: number): Promise<string> {
    return this.viewerJson(FeedService.latestKey(q), (onIds) => this.viewerLatestPage(q, onIds), viewerId);
  }

  async listLatest(q: TimeCursorQuery, viewerId?: number): Promise<TimePage> {
    const built = viewerId === undefined ? this.latestPage(q) : this.viewerLatestPage(q);
    const page = JSON.parse((await built).json) as TimePage;
    if (viewerId !== undefined) await this.markLiked(viewerId, page.video_list);
    return page;
  }

  async listByFollowing(q: TimeCursorQuery, viewerId: number): Promise<TimePage> {
    const page = JSON.parse((await this.followingPage(q, viewerId)).json) as TimePage;
    await this.markLiked(viewerId, page.video_list);
    return page;
  }

  /**
   * The viewer's following page as JSON: the page's bytes as they are when the viewer likes none
   * of its videos, else the page with those `is_liked` set (what {@link listByFollowing} returns).
   */
  async followingJsonFor(q: TimeCursorQuery, viewerId: number): Promise<string> {
    const key = CacheKeys.followingFeed(q.limit, viewerId, `${q.latestTime}:${q.idBefore}`);
    return this.viewerJson(key, (onIds) => this.followingPage(q, viewerId, onIds), viewerId);
  }

  /**
   * A deeper page straight from the viewer's timeline when it can answer (no page cache: a deep
   * cursor is rarely asked twice, and the timeline's page costs no query); else, and for the first
   * page, the cached page. `onIds` is told the items' ids before they are read (a timeline page).
   */
  private async followingPage(q: TimeCursorQuery, viewerId: number, onIds?: IdsSeen): Promise<CachedPage> {
    if (q.latestTime > 0) {
      const rows = await this.timelines.page(viewerId, q.limit + 1, q.latestTime, q.idBefore, onIds);
      if (rows !== undefined) return timePageOf(rows, q);
    }
    const key = CacheKeys.followingFeed(
      q.limit,
      viewerId,
      q.latestTime > 0 ? `${q.latestTime}:${q.idBefore}` : '0',
    );
    const json = await this.followingRaw(key, q, viewerId);
    // The same cached text as last time (the usual case within its 5 s): its ids are known.
    const known = this.followingRead.get(key);
    if (known !== undefined && known.json === json) return known;
    const page: CachedPage = { json, ids: pageIds(json) };
    this.followingRead.set(key, page, Date.now() + FEED_CACHE_TTL_MS);
    return page;
  }

  /**
   * The cached page's JSON (every `is_liked` false), under the SPEC §5 key and lock; built from the
   * timeline (the first page; a deeper one already asked it) or the SQL pull.
   */
  private followingRaw(key: string, q: TimeCursorQuery, viewerId: number): Promise<string> {
    return this.freshCached(key, () =>
      this.cache.getOrLoadRaw(key, { ttlMs: FEED_CACHE_TTL_MS, name: 'feed_following' }, async () => {
        const take = q.limit + 1;
        const rows =
          q.latestTime > 0
            ? await this.repo.following(viewerId, take, q.latestTime, q.idBefore, false, this.detailRows)
            : await this.followingRows(viewerId, q);
        return timePageOf(rows, q).json;
      }),
    );
  }

  /** The page's rows (and one more) from the viewer's timeline when it can answer, else the SQL pull. */
  async followingRows(viewerId: number, q: TimeCursorQuery): Promise<PageRow[]> {
    const take = q.limit + 1;
    return (
      (await this.timelines.page(viewerId, take, q.latestTime, q.idBefore)) ??
      (await this.repo.following(viewerId, take, q.latestTime, q.idBefore, false, this.detailRows))
    );
  }

  /**
   * A tag's videos (SPEC §8.3), the listLatest shape and cursor. `tagName` as sent (with or without
   * `#`): 400 when nothing is left, an empty page for a name no tag can have. From the tag's index
   * when it can answer ({@link TagIndex}), else the SQL query; not cached in Redis (a shared page,
   * {@link SharedPages}), so a deleted video is gone from the next page.
   */
  async listByTag(tagName: string, q: TimeCursorQuery, viewerId?: number): Promise<TimePage> {
    return this.viewerPage<TimePage>(this.tagPage(tagName, q), viewerId);
  }

  /** {@link listByTag} as JSON: the shared page's bytes when the viewer likes none of its videos. */
  async tagJsonFor(tagName: string, q: TimeCursorQuery, viewerId?: number): Promise<string> {
    const key = `tag:${tagName}:${q.limit}:${q.latestTime}:${q.idBefore}`;
    return this.viewerJson(key, (onIds) => this.tagPage(tagName, q, onIds), viewerId);
  }

  /** A shared tag page; `onIds` is told its items' ids before they are read when this call builds it. */
  private tagPage(tagName: string, q: TimeCursorQuery, onIds?: IdsSeen): Promise<CachedPage> {
    const tag = normalizeTagName(tagName);
    if (tag === '') throw fieldError('tag_name', 'must name a tag');
    return this.shared.get(`tag:${tag}:${q.limit}:${q.latestTime}:${q.idBefore}`, async () => {
      const rows = tag === null ? [] : await this.tagRows(tag, q, onIds);
      return timePageOf(rows, q);
    });
  }

  /** The page's rows (and one more) from the tag's index when it can answer, else the SQL query. */
  async tagRows(tag: string, q: TimeCursorQuery, onIds?: IdsSeen): Promise<PageRow[]> {
    const take = q.limit + 1;
    const ids = await this.tagIndex.ids(tag, take, q.latestTime, q.idBefore);
    return (
      (await this.indexRows(ids, (gone) => this.tagIndex.remove([tag], gone), onIds)) ??
      (await this.repo.byTag(tag, take, q.latestTime, q.idBefore))
    );
  }

  /** The hot list (SPEC §6, {@link HotListService}), a shared page like the likes-count pages. */
  async listByPopularity(q: PopularityQuery, viewerId?: number): Promise<PopularityPage> {
    return this.viewerPage<PopularityPage>(this.popularityPage(q), viewerId);
  }

  /** {@link listByPopularity} as JSON: the shared page's bytes when the viewer likes none of its videos. */
  async popularityJsonFor(q: PopularityQuery, viewerId?: number): Promise<string> {
    const key = `hot:${q.asOf}:${q.limit}:${q.offset}`;
    return this.viewerJson(key, () => this.popularityPage(q), viewerId);
  }

  private popularityPage(q: PopularityQuery): Promise<CachedPage> {
    const asOf = HotListService.resolveAsOf(q.asOf);
    return this.shared.get(`hot:${asOf}:${q.limit}:${q.offset}`, async () => {
      const page = await this.hot.list({ ...q, asOf });
      return cachedPage(page);
    });
  }

  /**
   * A likes-count page (SPEC §3.6): not cached in Redis, a shared page ({@link SharedPages}); from the
   * likes-count index when it can answer ({@link LikesCountIndex}), else the SQL query.
   */
  async listLikesCount(q: LikesCountQuery, viewerId?: number): Promise<LikesCountPage> {
    return this.viewerPage<LikesCountPage>(this.likesCountPage(q), viewerId);
  }

  /** {@link listLikesCount} as JSON: the shared page's bytes when the viewer likes none of its videos. */
  async likesCountJsonFor(q: LikesCountQuery, viewerId?: number): Promise<string> {
    const key = `likes:${q.limit}:${q.likesCountBefore ?? ''}:${q.idBefore ?? ''}`;
    return this.viewerJson(key, (onIds) => this.likesCountPage(q, onIds), viewerId);
  }

  /** A shared likes-count page; `onIds` as {@link tagPage}'s. */
  private likesCountPage(q: LikesCountQuery, onIds?: IdsSeen): Promise<CachedPage> {
    const cursor = likesCountCursor(q);
    const key = `likes:${q.limit}:${cursor ? `${cursor.likes}:${cursor.id}` : '0'}`;
    return this.shared.get(key, () => this.buildLikesCountPage(q, cursor, onIds));
  }

  private async buildLikesCountPage(
    q: LikesCountQuery,
    cursor: { likes: number; id: number } | undefined,
    onIds?: IdsSeen,
  ): Promise<CachedPage> {
    const rows =
      (await this.likesCountFromIndex(q.limit + 1, cursor, onIds)) ??
      (await this.repo.likesCount(q.limit + 1, cursor));
    return likesCountPageOf(rows, q.limit, cursor);
  }

  /**
   * The page's rows from the likes-count index, the items from their `getDetail` entries; undefined
   * = ask SQL. An item whose entry shows another count than the index (one of the two has not
   * caught up with a change yet) sends the page to SQL and marks that video for a refresh, as does
   * one that is gone.
   */
  private async likesCountFromIndex(
    take: number,
    cursor: { likes: number; id: number } | undefined,
    onIds?: IdsSeen,
  ): Promise<PageRow[] | undefined> {
    const entries = await this.likesIndex.page(take, cursor && { count: cursor.likes, id: cursor.id });
    if (entries === undefined) return undefined;
    const rows = await this.indexRows(
      entries.map((e) => e.id),
      (gone) => this.likesIndex.mark(gone),
      onIds,
    );
    if (rows === undefined) return undefined;
    const off = rows.filter((r, i) => Number(r.likes_count) !== entries[i].count).map((r) => Number(r.id));
    if (off.length === 0) return rows;
    await this.likesIndex.mark(off);
    return undefined;
  }

  /** A shared page as the object a controller returns, with the viewer's `is_liked`. */
  private async viewerPage<T extends { video_list: FeedVideoItem[] }>(
    page: Promise<CachedPage>,
    viewerId?: number,
  ): Promise<T> {
    const parsed = JSON.parse((await page).json) as T;
    if (viewerId !== undefined) await this.markLiked(viewerId, parsed.video_list);
    return parsed;
  }

  /**
   * A page as a viewer's JSON ({@link forViewer}), with the viewer's liked lookup sent along with
   * the page's own read (its cached copy, or the generation that validates a shared page) instead
   * of after it: the lookup asks for the ids this page listed when this process last served it
   * (`key` names the page), so both leave in one Redis batch and a page that did not change costs
   * one turn, not two. A page with no such guess that is built from its items' entries (a deeper
   * following or latest page; a tag or likes-count page this call builds) names its ids before it
   * reads them (`page`'s `onIds`), and the lookup for those leaves with that read. When the page
   * lists an id the early lookup did not ask for, its answer is dropped and the lookup is made
   * again for the page's own ids: the answer is always a lookup covering the ids served.
   */
  private async viewerJson(
    key: string,
    page: (onIds?: IdsSeen) => Promise<CachedPage>,
    viewerId?: number,
  ): Promise<string> {
    if (viewerId === undefined) return (await page()).json;
    const guess = this.lastIds.get(key);
    let asked: { ids: readonly number[]; liked: Promise<Set<number>> } | undefined;
    const ask = (ids: readonly number[]): void => {
      if (ids.length === 0 || (asked !== undefined && covers(asked.ids, ids))) return;
      asked = { ids, liked: this.likedAmong(viewerId, ids) };
      // A page that fails leaves the lookup unread; its failure is not the request's.
      asked.liked.catch(() => undefined);
    };
    if (guess !== undefined) ask(guess);
    // A page built from its items' entries (a deeper following or latest page; a tag or likes-count
    // page this call builds, not one it joins or finds held) names its ids before it reads
    // them: with no guess, the lookup leaves with that read instead of after it.
    const p = await page(asked === undefined ? ask : undefined);
    if (asked !== undefined && covers(asked.ids, p.ids)) {
      if (guess === undefined || !sameIds(guess, p.ids))
        this.lastIds.set(key, p.ids, Date.now() + LAST_IDS_TTL_MS);
      return likedJson(p, await asked.liked);
    }
    this.lastIds.set(key, p.ids, Date.now() + LAST_IDS_TTL_MS);
    return this.forViewer(p, viewerId);
  }

  /**
   * A shared page as a viewer's JSON: its bytes as they are when there is no viewer or the viewer
   * likes none of its videos (the usual case), else the page with those `is_liked` set.
   */
  private async forViewer(page: CachedPage, viewerId?: number): Promise<string> {
    if (viewerId === undefined || page.ids.length === 0) return page.json;
    return likedJson(page, await this.likedAmong(viewerId, page.ids));
  }

  /**
   * Sets `is_liked` on the items the viewer likes: from the viewer's liked set in Redis
   * ({@link LikedSets}, dropped by each of its likes and unlikes before they answer), else one
   * query per page.
   */
  async markLiked(viewerId: number, items: FeedVideoItem[]): Promise<void> {
    if (items.length === 0) return;
    const liked = await this.likedAmong(
      viewerId,
      items.map((i) => i.id),
    );
    for (const i of items) i.is_liked = liked.has(i.id);
  }

  private async likedAmong(viewerId: number, ids: readonly number[]): Promise<Set<number>> {
    return (await this.likedSets.likedAmong(viewerId, ids)) ?? (await this.repo.likedAmong(viewerId, ids));
  }
}
