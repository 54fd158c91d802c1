import { ExpiringMap } from '@app/core';

/**
 * A tiny in-process LRU of pre-serialised latest pages (every `is_liked` false), in front of Redis:
 * the HTTP fast path answers an anonymous hit from here without any await. An entry never outlives
 * the TTL of the page it copies (it expires when the Redis copy was built + TTL), so feeds still
 * converge within 5 s. Anonymous pages only: a logged-in viewer's latest page is a shared page.
 */
export class FeedPageCache extends ExpiringMap<CachedPage> {}

/** A page's exact JSON (every `is_liked` false) and its video ids, for a viewer's `is_liked`. */
export interface CachedPage {
  json: string;
  ids: number[];
  /** Where each item's `"is_liked":false` starts in `json` (found on the first viewer who likes one). */
  likedAt?: number[];
}

const NOT_LIKED = '"is_liked":false';
const LIKED = '"is_liked":true';

/**
 * The page's JSON with `is_liked` true on the items in `liked`, without parsing it: every item is
 * written by `toFeedItem` with one `"is_liked":false`, in the order of `ids`, and no title or name
 * can contain that text (a quote inside a JSON string is always escaped). Undefined when the page
 * does not hold one per id (the caller then parses it).
 */
export function withLiked(page: CachedPage, liked: ReadonlySet<number>): string | undefined {
  if (page.likedAt === undefined) {
    const at: number[] = [];
    for (let i = page.json.indexOf(NOT_LIKED); i >= 0; i = page.json.indexOf(NOT_LIKED, i + NOT_LIKED.length))
      at.push(i);
    page.likedAt = at;
  }
  const at = page.likedAt;
  if (at.length !== page.ids.length) return undefined;
  let out = '';
  let from = 0;
  for (let i = 0; i < at.length; i++) {
    if (!liked.has(page.ids[i])) continue;
    out += page.json.slice(from, at[i]) + LIKED;
    from = at[i] + NOT_LIKED.length;
  }
  return out + page.json.slice(from);
}

/** Cached pages are stored as `<built-at unix ms>\n<page JSON>`, so every reader knows their age. */
export function packPage(builtAt: number, json: string): string {
  return `${builtAt}\n${json}`;
}

export function unpackPage(raw: string): { builtAt: number; json: string } {
  const nl = raw.indexOf('\n');
  if (nl < 0) return { builtAt: 0, json: raw };
  return { builtAt: Number(raw.slice(0, nl)), json: raw.slice(nl + 1) };
}
