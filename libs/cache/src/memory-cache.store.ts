import type Redis from 'ioredis';
import { CacheStore, DependencyState } from './cache-store';

interface Entry {
  value: string;
  expiresAt: number;
}

/** The embedded profile's cache: one process, bounded size, lazy expiry. */
export class MemoryCacheStore extends CacheStore {
  readonly kind = 'memory' as const;
  private readonly map = new Map<string, Entry>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly maxEntries = 50_000) {
    super();
    this.sweeper = setInterval(() => this.sweep(), 10_000);
    this.sweeper.unref();
  }

  state(): DependencyState {
    return 'disabled';
  }

  private live(key: string): Entry | undefined {
    const e = this.map.get(key);
    if (e && e.expiresAt <= Date.now()) {
      this.map.delete(key);
      return undefined;
    }
    return e;
  }

  private put(key: string, value: string, ttlMs: number): void {
    if (this.map.size >= this.maxEntries && !this.map.has(key)) {
      // Evict the oldest insertion (Map keeps insertion order).
      const first = this.map.keys().next();
      if (!first.done) this.map.delete(first.value);
    }
    this.map.set(key, { value, expiresAt: Date.now() + ttlMs });
  }

  private sweep(): void {
    const now = Date.now();
    for (const [k, e] of this.map) if (e.expiresAt <= now) this.map.delete(k);
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
    for (const k of keys) this.map.delete(k);
    return Promise.resolve(true);
  }

  delIfEquals(key: string, value: string): Promise<boolean> {
    if (this.live(key)?.value === value) this.map.delete(key);
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

  pexpire(key: string, ttlMs: number): Promise<boolean> {
    const e = this.live(key);
    if (e) e.expiresAt = Date.now() + ttlMs;
    return Promise.resolve(e !== undefined);
  }

  withRedis<T>(_op: (redis: Redis, prefix: string) => Promise<T>): Promise<T | undefined> {
    return Promise.resolve(undefined);
  }

  close(): Promise<void> {
    clearInterval(this.sweeper);
    this.map.clear();
    return Promise.resolve();
  }
}
