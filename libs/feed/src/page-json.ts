import type { CachedPage } from './feed-page-cache';
import { itemJson, type PageRow, type TimeCursorQuery } from './feed.types';

/**
 * A page's JSON and ids, written item by item ({@link itemJson}: a row made from a cached entry
 * is its text as it is), then `tail` given the page's last row: byte for byte what
 * `JSON.stringify` of the page object writes (`{"video_list":[…],…}`, fields in that order).
 */
function writePage(
  rows: readonly PageRow[],
  limit: number,
  tail: (last: PageRow | undefined) => string,
): CachedPage {
  const n = Math.min(rows.length, limit);
  const ids: number[] = [];
  let json = '{"video_list":[';
  for (let i = 0; i < n; i++) {
    if (i > 0) json += ',';
    json += itemJson(rows[i]);
    ids.push(Number(rows[i].id));
  }
  return { json: json + '],' + tail(rows[n - 1]) + '}', ids };
}

/** A latest, following or tag page (SPEC §3.6 `TimePage`) of `rows` (the page and one more). */
export function timePageOf(rows: readonly PageRow[], q: TimeCursorQuery): CachedPage {
  return writePage(
    rows,
    q.limit,
    (last) =>
      `"next_time":${last ? Number(last.create_time) : q.latestTime},` +
      `"next_id_before":${last ? Number(last.id) : q.idBefore},"has_more":${rows.length > q.limit}`,
  );
}

/** A likes-count page (SPEC §3.6) of `rows` (the page and one more) after `cursor`. */
export function likesCountPageOf(
  rows: readonly PageRow[],
  limit: number,
  cursor: { likes: number; id: number } | undefined,
): CachedPage {
  return writePage(
    rows,
    limit,
    (last) =>
      `"next_likes_count_before":${last ? Number(last.likes_count) : (cursor?.likes ?? 0)},` +
      `"next_id_before":${last ? Number(last.id) : (cursor?.id ?? 0)},"has_more":${rows.length > limit}`,
  );
}
