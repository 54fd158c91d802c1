import { ExpiringMap } from '@app/core';

/**
 * A tiny in-process LRU of pre-serialised anonymous pages, in front of Redis: the HTTP fast path
 * answers a cache hit from here without any await. An entry never outlives the TTL of the page it
 * copies (it expires when the Redis copy was built + TTL), so feeds still converge within 5 s.
 */
export class FeedPageCache extends ExpiringMap<CachedPage> {}

/** A page's exact JSON (every `is_liked` false) and its video ids, for a viewer's `is_liked`. */
export interface CachedPage {
  json: string;
  ids: number[];
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
