import { decodeTags, type VideoView, type VideoViewRow } from '@app/video';

/** SPEC §3.6 FeedVideoItem: `create_time` in unix seconds; `tags` of SPEC §8.3. */
export interface FeedVideoItem {
  id: number;
  author: { id: number; username: string };
  title: string;
  description: string;
  play_url: string;
  cover_url: string;
  create_time: number;
  likes_count: number;
  comments_count: number;
  is_liked: boolean;
  tags: string[];
}

/** A row of `videos` as the feed queries select it (both drivers): a video's raw row without popularity. */
export type VideoRow = Omit<VideoViewRow, 'popularity' | 'tags'> & {
  /** Encoded as stored (`decodeTags`), or already a list (a row made from a cached item). */
  tags: string | string[];
};

export interface TimePage {
  video_list: FeedVideoItem[];
  /** unix ms of the last item's create_time (the request's cursor on an empty page). */
  next_time: number;
  next_id_before: number;
  has_more: boolean;
}

export interface LikesCountPage {
  video_list: FeedVideoItem[];
  next_likes_count_before: number;
  next_id_before: number;
  has_more: boolean;
}

export interface PopularityPage {
  video_list: FeedVideoItem[];
  as_of: number;
  next_offset: number;
  has_more: boolean;
}

/** Normalised requests (the edge validated types and signs; 0 = absent). */
export interface TimeCursorQuery {
  limit: number;
  latestTime: number;
  idBefore: number;
}

export interface LikesCountQuery {
  limit: number;
  /** undefined when absent from the request */
  likesCountBefore?: number;
  idBefore?: number;
}

export interface PopularityQuery {
  limit: number;
  asOf: number;
  offset: number;
}

export const FEED_DEFAULT_LIMIT = 10;
export const FEED_MAX_LIMIT = 50;
/** TTL of the cached latest and following pages (SPEC §5). */
export const FEED_CACHE_TTL_MS = 5000;

/** absent/0 → default, above the maximum → clamped (SPEC §1). */
export function clampLimit(limit: number | undefined | null): number {
  if (!limit) return FEED_DEFAULT_LIMIT;
  return Math.min(limit, FEED_MAX_LIMIT);
}

export function toFeedItem(r: VideoRow): FeedVideoItem {
  return {
    id: Number(r.id),
    author: { id: Number(r.author_id), username: r.username },
    title: r.title,
    description: r.description,
    play_url: r.play_url,
    cover_url: r.cover_url,
    create_time: Math.floor(Number(r.create_time) / 1000),
    likes_count: Number(r.likes_count),
    comments_count: Number(r.comments_count),
    is_liked: false,
    tags: Array.isArray(r.tags) ? r.tags : decodeTags(r.tags),
  };
}

/** A cached item (`getDetail`'s entry) as a feed row. */
export function viewRow(v: VideoView): VideoRow {
  return {
    id: v.id,
    author_id: v.author_id,
    username: v.username,
    title: v.title,
    description: v.description,
    play_url: v.play_url,
    cover_url: v.cover_url,
    create_time: Date.parse(v.create_time),
    likes_count: v.likes_count,
    comments_count: v.comments_count,
    tags: v.tags,
  };
}
