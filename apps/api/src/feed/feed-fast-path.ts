import { normalizeTagName } from '@app/video';
import { clampLimit, FeedService, LikesCountQuery, TimeCursorQuery } from '@app/feed';
import { FastRoute, uintField, uintFields } from '../http/fast-reads';
import { isWellFormedText } from '../http/validators';

/** `{limit, latest_time, id_before}` as ListLatestDto would take it unchanged; else null. */
export function fastLatestQuery(b: Record<string, unknown>): TimeCursorQuery | null {
  const f = uintFields(b, ['limit', 'latest_time', 'id_before']);
  return f && FeedService.timeQuery(f.limit, f.latest_time, f.id_before);
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
export function feedFastRoutes(feeds: FeedService): FastRoute<unknown>[] {
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
    answer: (q, viewer) => feeds.likesCountJsonFor(q, viewer),
  };
  const byTag: FastRoute<{ tag: string; q: TimeCursorQuery }> = {
    url: '/feed/listByTag',
    auth: 'soft',
    query: (b) => {
      const tag = b.tag_name;
      // Already trimmed, 1–200 UTF-16 units (so ≤ 200 code points), well-formed, naming a tag: as
      // the DTO takes it.
      if (typeof tag !== 'string' || tag.length === 0 || tag.length > 200 || tag !== tag.trim()) return null;
      if (!isWellFormedText(tag)) return null;
      if (normalizeTagName(tag) === '') return null;
      const q = fastLatestQuery(b);
      return q && { tag, q };
    },
    answer: ({ tag, q }, viewer) => feeds.tagJsonFor(tag, q, viewer),
  };
  const popularity: FastRoute<{ limit: number; asOf: number; offset: number }> = {
    url: '/feed/listByPopularity',
    auth: 'soft',
    query: (b) => {
      const f = uintFields(b, ['limit', 'as_of', 'offset']);
      return f && { limit: clampLimit(f.limit), asOf: f.as_of, offset: f.offset };
    },
    answer: (q, viewer) => feeds.popularityJsonFor(q, viewer),
  };
  return [latest, following, likesCount, byTag, popularity] as FastRoute<unknown>[];
}
