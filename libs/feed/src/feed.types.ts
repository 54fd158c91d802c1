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

/**
 * A page row made from a cached `getDetail` entry's text without parsing it ({@link entryRow}):
 * what a page needs of the video (its keyset and likes count) and its item's JSON as
 * `JSON.stringify(toFeedItem(row))` would write it.
 */
export interface TextRow {
  id: number;
  /** unix ms */
  create_time: number;
  likes_count: number;
  item: string;
}

/** A row a page is built from: a query's, or one made from a cached entry. */
export type PageRow = VideoRow | TextRow;

const isTextRow = (r: PageRow): r is TextRow => 'item' in r;

/** The row's item as JSON (`is_liked` false): a text row's as it is, else {@link toFeedItem}'s. */
export function itemJson(r: PageRow): string {
  return isTextRow(r) ? r.item : JSON.stringify(toFeedItem(r));
}

/**
 * The keys of a `getDetail` entry, in the order `JSON.stringify` writes a {@link VideoView} (the
 * order of its fields in `toVideoView` and `rowToVideoView`).
 */
const K_AUTHOR = ',"author_id":';
const K_USERNAME = ',"username":"';
const K_TITLE = ',"title":"';
const K_CREATED = ',"create_time":"';
const K_LIKES = ',"likes_count":';
const K_COMMENTS = ',"comments_count":';
const K_POPULARITY = ',"popularity":';
const K_TAGS = ',"tags":[';

/**
 * A `getDetail` entry's text (`JSON.stringify` of a {@link VideoView} with its tags) as a page
 * row, by slicing: the item's JSON is the entry's with `author_id`/`username` nested as `author`,
 * `create_time` in unix seconds, `popularity` dropped and `is_liked` false, byte for byte what
 * `JSON.stringify(toFeedItem(viewRow(JSON.parse(text))))` writes. Each key is found by its quoted
 * name after the previous one: inside a JSON string every quote is escaped (`\"`), so no title,
 * name or URL can hold an unescaped `,"title":"`, and the first match is the key. Undefined when
 * the text is not in that exact shape (the caller parses it).
 */
export function textRow(text: string): TextRow | undefined {
  if (!text.startsWith('{"id":') || !text.endsWith(']}')) return undefined;
  const a = text.indexOf(K_AUTHOR, 6);
  const u = a < 0 ? -1 : text.indexOf(K_USERNAME, a);
  const t = u < 0 ? -1 : text.indexOf(K_TITLE, u);
  const c = t < 0 ? -1 : text.indexOf(K_CREATED, t);
  const l = c < 0 ? -1 : text.indexOf(K_LIKES, c);
  const m = l < 0 ? -1 : text.indexOf(K_COMMENTS, l);
  const p = m < 0 ? -1 : text.indexOf(K_POPULARITY, m);
  const g = p < 0 ? -1 : text.indexOf(K_TAGS, p);
  if (g < 0) return undefined;
  const id = Number(text.slice(6, a));
  const ms = Date.parse(text.slice(c + K_CREATED.length, l - 1));
  const likes = Number(text.slice(l + K_LIKES.length, m));
  if (!Number.isSafeInteger(id) || !Number.isFinite(ms) || !Number.isSafeInteger(likes)) return undefined;
  const item =
    text.slice(0, a) +
    ',"author":{"id":' +
    text.slice(a + K_AUTHOR.length, u) +
    text.slice(u, t) +
    '}' +
    text.slice(t, c) +
    ',"create_time":' +
    Math.floor(ms / 1000) +
    text.slice(l, p) +
    ',"is_liked":false' +
    text.slice(g);
  return { id, create_time: ms, likes_count: likes, item };
}

/** A cached entry (its text, or the view when it was loaded or parsed) as a page row. */
export function entryRow(entry: string | VideoView): PageRow {
  if (typeof entry !== 'string') return viewRow(entry);
  return textRow(entry) ?? viewRow(JSON.parse(entry) as VideoView);
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
