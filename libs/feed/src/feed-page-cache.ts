/**
 * A tiny in-process LRU of pre-serialised anonymous pages, in front of Redis: the HTTP fast path
 * answers a cache hit from here without any await. An entry never outlives the TTL of the page it
 * copies (it expires when the Redis copy was built + TTL), so feeds still converge within 5 s.
 */
export class FeedPageCache {
  private readonly map = new Map<string, { body: string; expiresAt: number }>();

  constructor(private readonly maxEntries = 1000) {}

  get(key: string): string | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= Date.now()) {
      this.map.delete(key);
      return undefined;
    }
    return e.body;
  }

  set(key: string, body: string, expiresAt: number): void {
    if (expiresAt <= Date.now()) return;
    this.map.delete(key);
    if (this.map.size >= this.maxEntries) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
    this.map.set(key, { body, expiresAt });
  }

  clear(): void {
    this.map.clear();
  }
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
