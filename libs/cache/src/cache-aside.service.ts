import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { CacheStore } from './cache-store';
import { CacheKeys } from './cache-keys';
import { CacheMetrics } from './cache-metrics';

export interface CacheAsideOptions {
  ttlMs: number;
  /** Lock lifetime: how long one rebuild may take before others give up waiting. */
  lockTtlMs?: number;
  /** How long a caller that lost the lock race waits for the fill before reading the database. */
  waitMs?: number;
  /** Counted as hit/miss under this name in /metrics. */
  name: string;
  /**
   * The key is invalidated with `CacheStore.markChanged`, whose stamps live `stampTtlMs`: the
   * stamp is read with the lock, before the load, and the fill lands only if no change was marked
   * since (and the key is still absent), so a load that read the row before a change never caches
   * it. A load that took so long that a newer stamp may have expired is not cached at all.
   */
  guarded?: { stampTtlMs: number };
  /** The fill's TTL by its value (e.g. a short one for a negative entry); default `ttlMs`. */
  ttlFor?: (value: string) => number;
}

/**
 * Cache-aside with a rebuild lock (SPEC §5) and in-process singleflight: a cold key costs the
 * database one query however many callers arrive, across processes (Redis lock) and within
 * one (shared promise). With the cache down, every caller reads the database.
 */
@Injectable()
export class CacheAside {
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(
    private readonly store: CacheStore,
    private readonly metrics: CacheMetrics,
  ) {}

  /** A hit answered before this cache was asked (the value held near, {@link CacheStore.nearCache}): counted as its own. */
  countHit(name: string): void {
    this.metrics.hit(name);
  }

  /** Returns the cached JSON text, or loads, stores and returns it. */
  async getOrLoadRaw(key: string, opts: CacheAsideOptions, load: () => Promise<string>): Promise<string> {
    // A rebuild already running in this process answers everyone who arrives meanwhile.
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const cached = await this.store.get(key);
    if (cached !== null) {
      this.metrics.hit(opts.name);
      return cached;
    }
    this.metrics.miss(opts.name);
    const running = this.inflight.get(key);
    if (running) return running;
    const p: Promise<string> = this.rebuild(key, opts, load).finally(() => {
      if (this.inflight.get(key) === p) this.inflight.delete(key);
    });
    this.inflight.set(key, p);
    return p;
  }

  async getOrLoad<T>(key: string, opts: CacheAsideOptions, load: () => Promise<T>): Promise<T> {
    return JSON.parse(await this.getOrLoadRaw(key, opts, async () => JSON.stringify(await load()))) as T;
  }

  private async rebuild(key: string, opts: CacheAsideOptions, load: () => Promise<string>): Promise<string> {
    const lockKey = CacheKeys.lock(key);
    const token = randomUUID();
    const lockTtlMs = opts.lockTtlMs ?? 2000;
    // With `guarded`, the stamp the fill will be checked against (read before the load; undefined:
    // store unavailable, no fill).
    const stampReadAt = Date.now();
    const [lock, stamp] = await Promise.all([
      this.store.lockAndPeek(lockKey, token, lockTtlMs, key),
      opts.guarded ? this.store.changeStamps([key]) : undefined,
    ]);
    if (lock.got === false) {
      // Someone else is rebuilding: wait briefly for the fill, then go to the database (at once
      // when the lock is gone unfilled: that fill was refused or failed).
      const deadline = Date.now() + (opts.waitMs ?? 500);
      for (let delay = 5; Date.now() < deadline; delay = Math.min(delay * 2, 50)) {
        await new Promise((r) => setTimeout(r, delay));
        const [v, held] = await Promise.all([this.store.get(key), this.store.get(lockKey)]);
        if (v !== null) return v;
        if (held === null) break;
      }
      return load();
    }
    // Filled between our miss and the lock (e.g. by another process): no second load.
    if (lock.value !== null) {
      await this.store.delIfEquals(lockKey, token);
      return lock.value;
    }
    let released = false;
    try {
      const value = await load();
      const ttl = opts.ttlFor?.(value) ?? opts.ttlMs;
      if (!opts.guarded) {
        if (lock.got) released = await this.store.setAndUnlock(key, value, ttl, lockKey, token);
        else await this.store.set(key, value, ttl);
      } else if (lock.got && stamp !== undefined && stampStillGuards(stampReadAt, opts.guarded.stampTtlMs))
        released = await this.store.fillIfUnchangedAndUnlock(key, stamp[0], value, ttl, lockKey, token);
      return value;
    } finally {
      if (lock.got && !released) await this.store.delIfEquals(lockKey, token);
    }
  }

  /** A rebuild of one of the keys running in this process is no longer joined by later callers. */
  forget(...keys: string[]): void {
    for (const key of keys) this.inflight.delete(key);
  }

  /** Deletes the keys; a rebuild of one running in this process is no longer joined by later callers. */
  invalidate(...keys: string[]): Promise<boolean> {
    this.forget(...keys);
    return this.store.del(...keys);
  }
}

/** Room for the round trips around a guarded fill. */
const GUARD_MARGIN_MS = 1000;

/**
 * Whether a fill checked against a stamp read at `readAt` is still safe: a change after that read
 * wrote a stamp that lives `stampTtlMs` from a later instant, so it is still there now.
 */
export function stampStillGuards(readAt: number, stampTtlMs: number): boolean {
  return Date.now() - readAt < stampTtlMs - GUARD_MARGIN_MS;
}
