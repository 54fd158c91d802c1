import { normalizeTagName } from '@app/video';
import { clampLimit, FeedService, HotListService, LikesCountQuery, TimeCursorQuery } from '@app/feed';
import { FastRoute, uintField } from '../http/fast-reads';

/** `{limit, latest_time, id_before}` as ListLatestDto would take it unchanged; else null. */
export function fastLatestQuery(b: Record<string, unknown>): TimeCursorQuery | null {
  const limit = uintField(b.limit);
  const latestTime = uintField(b.latest_time);
  const idBefore = uintField(b.id_before);
  if (limit === null || latestTime === null || idBefore === null) return null;
  return FeedService.timeQuery(limit, latestTime, idBefore);
}

/** A present field as is; absent as undefined; null for a value the fast path leaves to Nest. */
function optionalUint(v: unknown): number | undefined | null {
  return v === undefined ? undefined : uintField(v);
}

/**
 * The feed routes' fast paths (see {@link FastReads}): the same service calls as FeedController,
 * with the DTOs' rules applied to the bodies they take. An anonymous latest page that this process
 * holds is answered without an await, from its pre-serialised bytes.
 */
export function feedFastRoutes(feeds: FeedService, hot: HotListService): FastRoute<unknown>[] {
  const latest: FastRoute<TimeCursorQuery> = {
    url: '/feed/listLatest',
    auth: 'soft',
    query: fastLatestQuery,
    answer: (q, viewer) =>
      viewer === undefined
        ? (feeds.latestPages.get(FeedService.latestKey(q))?.json ?? feeds.latestJson(q))
        : feeds.latestJsonFor(q, viewer),
  };
  const following: FastRoute<TimeCursorQuery> = {
    url: '/feed/listByFollowing',
    auth: 'jwt',
    query: fastLatestQuery,
    answer: (q, viewer) => (viewer === undefined ? undefined : feeds.followingJsonFor(q, viewer)),
  };
  const likesCount: FastRoute<LikesCountQuery> = {
    url: '/feed/listLikesCount',
    auth: 'soft',
    query: (b) => {
      const limit = uintField(b.limit);
      const likesCountBefore = optionalUint(b.likes_count_before);
      const idBefore = optionalUint(b.id_before);
      if (limit === null || likesCountBefore === null || idBefore === null) return null;
      return { limit: clampLimit(limit), likesCountBefore, idBefore };
    },
    // An unpaired cursor throws the service's 400; Nest then answers it from the DTO's rule.
    answer: (q, viewer) => feeds.listLikesCount(q, viewer),
  };
  const byTag: FastRoute<{ tag: string; q: TimeCursorQuery }> = {
    url: '/feed/listByTag',
    auth: 'soft',
    query: (b) => {
      const tag = b.tag_name;
      // Already trimmed, 1–200 UTF-16 units (so ≤ 200 code points), naming a tag: as the DTO takes it.
      if (typeof tag !== 'string' || tag.length === 0 || tag.length > 200 || tag !== tag.trim()) return null;
      if (normalizeTagName(tag) === '') return null;
      const q = fastLatestQuery(b);
      return q && { tag, q };
    },
    answer: ({ tag, q }, viewer) => feeds.listByTag(tag, q, viewer),
  };
  const popularity: FastRoute<{ limit: number; asOf: number; offset: number }> = {
    url: '/feed/listByPopularity',
    auth: 'soft',
    query: (b) => {
      const limit = uintField(b.limit);
      const asOf = uintField(b.as_of);
      const offset = uintField(b.offset);
      if (limit === null || asOf === null || offset === null) return null;
      return { limit: clampLimit(limit), asOf, offset };
    },
    answer: async (q, viewer) => {
      const page = await hot.list(q);
      if (viewer !== undefined) await feeds.markLiked(viewer, page.video_list);
      return page;
    },
  };
  return [latest, following, likesCount, byTag, popularity] as FastRoute<unknown>[];
}
