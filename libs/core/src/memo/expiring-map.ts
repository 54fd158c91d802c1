/**
 * A small in-process map with a size bound and a per-entry expiry: an entry is gone once
 * `Date.now()` reaches its `expiresAt`, and past `maxEntries` the oldest insertion is forgotten
 * first. For values that are cheap to hold and costly to recompute on a hot path (serialised
 * feed pages, verified access tokens, token digests).
 */
export class ExpiringMap<V> {
  private readonly map = new Map<string, { value: V; expiresAt: number }>();

  constructor(private readonly maxEntries = 1000) {}

  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= Date.now()) {
      this.map.delete(key);
      return undefined;
    }
    return e.value;
  }

  /** Keeps `value` until `expiresAt` (unix ms; `Infinity` for no expiry); an expired one is not kept. */
  set(key: string, value: V, expiresAt: number): void {
    if (expiresAt <= Date.now()) return;
    this.map.delete(key);
    if (this.map.size >= this.maxEntries) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
    this.map.set(key, { value, expiresAt });
  }

  clear(): void {
    this.map.clear();
  }

  get size(): number {
    return this.map.size;
  }
}
