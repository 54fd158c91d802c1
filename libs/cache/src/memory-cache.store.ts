import { randomUUID } from 'node:crypto';
import { boundedKey } from './bounded-key';
import { type AlsoSet, CacheStore, DependencyState, type RedisClient } from './cache-store';

interface Entry {
  value: string;
  expiresAt: number;
}

/**
 * The embedded profile's cache (and the rate limiter's fallback): one process, bounded size,
 * lazy expiry. When full it evicts the least recently used key (Map order, refreshed on every
 * read or hit), so a flood of new keys pushes out cold entries, never a counter still in use.
 * Keys longer than {@link boundedKey}'s cap are stored under a digest.
 */
export class MemoryCacheStore extends CacheStore {
  readonly kind = 'memory' as const;
  private readonly map = new Map<string, Entry>();
  /**
   * Change stamps ({@link markChanged}): apart from the entries, so the LRU bound never evicts one
   * early (they live seconds; the sweep drops them).
   */
  private readonly stamps = new Map<string, Entry>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly maxEntries = 50_000) {
    super();
    this.sweeper = setInterval(() => this.sweep(), 10_000);
    this.sweeper.unref();
  }

  state(): DependencyState {
    return 'disabled';
  }

  /** The live entry, moved to the most recently used end; expired entries are dropped. */
  private live(key: string): Entry | undefined {
    const k = boundedKey(key);
    const e = this.map.get(k);
    if (!e) return undefined;
    this.map.delete(k);
    if (e.expiresAt <= Date.now()) return undefined;
    this.map.set(k, e);
    return e;
  }

  private put(key: string, value: string, ttlMs: number): void {
    const k = boundedKey(key);
    if (!this.map.delete(k) && this.map.size >= this.maxEntries) {
      // Evict the least recently used key (the first in Map order).
      const first = this.map.keys().next();
      if (!first.done) this.map.delete(first.value);
    }
    this.map.set(k, { value, expiresAt: Date.now() + ttlMs });
  }

  private sweep(): void {
    const now = Date.now();
    for (const [k, e] of this.map) if (e.expiresAt <= now) this.map.delete(k);
    for (const [k, e] of this.stamps) if (e.expiresAt <= now) this.stamps.delete(k);
  }

  get(key: string): Promise<string | null> {
    return Promise.resolve(this.live(key)?.value ?? null);
  }

  mget(keys: string[]): Promise<(string | null)[]> {
    return Promise.resolve(keys.map((k) => this.live(k)?.value ?? null));
  }

  set(key: string, value: string, ttlMs: number): Promise<boolean> {
    this.put(key, value, ttlMs);
    return Promise.resolve(true);
  }

  setNx(key: string, value: string, ttlMs: number): Promise<boolean | null> {
    if (this.live(key)) return Promise.resolve(false);
    this.put(key, value, ttlMs);
    return Promise.resolve(true);
  }

  del(...keys: string[]): Promise<boolean> {
    for (const k of keys) this.map.delete(boundedKey(k));
    return Promise.resolve(true);
  }

  delIfEquals(key: string, value: string): Promise<boolean> {
    if (this.live(key)?.value === value) this.map.delete(boundedKey(key));
    return Promise.resolve(true);
  }

  markChanged(
    key: string,
    stampTtlMs: number,
    mark?: { value: string; ttlMs: number },
    also?: AlsoSet,
  ): Promise<boolean> {
    this.stamps.set(boundedKey(key), { value: randomUUID(), expiresAt: Date.now() + stampTtlMs });
    if (mark) this.put(key, mark.value, mark.ttlMs);
    else this.map.delete(boundedKey(key));
    if (also) this.put(also.key, also.value, also.ttlMs);
    return Promise.resolve(true);
  }

  changeStamps(keys: string[]): Promise<(string | null)[]> {
    return Promise.resolve(keys.map((k) => this.stampOf(k)));
  }

  fillIfUnchanged(key: string, stamp: string | null, value: string, ttlMs: number): Promise<boolean> {
    if (this.stampOf(key) !== stamp || this.live(key)) return Promise.resolve(false);
    this.put(key, value, ttlMs);
    return Promise.resolve(true);
  }

  private stampOf(key: string): string | null {
    const k = boundedKey(key);
    const e = this.stamps.get(k);
    if (e && e.expiresAt <= Date.now()) this.stamps.delete(k);
    return e && e.expiresAt > Date.now() ? e.value : null;
  }

  replaceIfEquals(key: string, expected: string, value: string, ttlMs: number): Promise<boolean> {
    if (this.live(key)?.value !== expected) return Promise.resolve(false);
    this.put(key, value, ttlMs);
    return Promise.resolve(true);
  }

  hit(key: string, windowMs: number): Promise<{ count: number; ttlMs: number }> {
    const now = Date.now();
    const e = this.live(key);
    if (!e) {
      this.put(key, '1', windowMs);
      return Promise.resolve({ count: 1, ttlMs: windowMs });
    }
    e.value = String(Number(e.value) + 1);
    return Promise.resolve({ count: Number(e.value), ttlMs: e.expiresAt - now });
  }

  override unhit(key: string): Promise<boolean> {
    const e = this.live(key);
    if (e && Number(e.value) > 0) e.value = String(Number(e.value) - 1);
    return Promise.resolve(true);
  }

  /** Entries held now, expired ones not yet swept included (tests, metrics). */
  get size(): number {
    return this.map.size;
  }

  pexpire(key: string, ttlMs: number): Promise<boolean> {
    const e = this.live(key);
    if (e) e.expiresAt = Date.now() + ttlMs;
    return Promise.resolve(e !== undefined);
  }

  withRedis<T>(_op: (redis: RedisClient, prefix: string) => Promise<T>): Promise<T | undefined> {
    return Promise.resolve(undefined);
  }

  close(): Promise<void> {
    clearInterval(this.sweeper);
    this.map.clear();
    this.stamps.clear();
    return Promise.resolve();
  }
}
