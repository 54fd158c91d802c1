import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { CacheKeys, CacheStore, MemoryCacheStore } from '@app/cache';
import { APP_CONFIG } from '@app/core';
import type { AppConfig, RateLimitName } from '@app/core';

export interface RateLimitSubject {
  name: RateLimitName;
  /** e.g. `a:42` (account), `ip:10.0.0.1`, `u:<digest>` (login username + IP). */
  subject: string;
}

/** A hit that was counted, and where (Redis, or the fallback while Redis did not answer). */
export interface CountedHit {
  name: RateLimitName;
  key: string;
  store: CacheStore;
}

/**
 * Fixed-window counters in Redis (`CacheStore.hit`), falling back to a per-process counter
 * whenever Redis does not answer: limits never fail open. The fallback is bounded (LRU) and
 * keys are length-capped by the stores.
 */
@Injectable()
export class RateLimiter implements OnModuleDestroy {
  private readonly fallback = new MemoryCacheStore(100_000);

  constructor(
    private readonly cache: CacheStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  isEnabled(name: RateLimitName): boolean {
    return this.config.rateLimits[name] !== null;
  }

  /**
   * Counts one hit on each subject in order and stops at the first one over its limit (so a
   * refused request creates no further keys). Resolves the seconds to wait (or null) and the
   * hits counted.
   */
  async consume(subjects: RateLimitSubject[]): Promise<{ retryAfter: number | null; counted: CountedHit[] }> {
    const counted: CountedHit[] = [];
    for (const { name, subject } of subjects) {
      const rule = this.config.rateLimits[name];
      if (!rule) continue;
      const key = CacheKeys.rateLimit(name, subject);
      const windowMs = rule.windowSeconds * 1000;
      let store: CacheStore = this.cache;
      let r = await this.cache.hit(key, windowMs);
      if (r === null) {
        store = this.fallback;
        r = await this.fallback.hit(key, windowMs);
      }
      counted.push({ name, key, store });
      if (r.count > rule.limit) {
        return { retryAfter: Math.max(1, Math.ceil(r.ttlMs / 1000)), counted };
      }
    }
    return { retryAfter: null, counted };
  }

  /** Counts one hit on each; resolves the seconds to wait when one is exceeded, else null. */
  async hit(subjects: RateLimitSubject[]): Promise<number | null> {
    return (await this.consume(subjects)).retryAfter;
  }

  /** Gives counted hits back (a failures-only limit, after a success). */
  async refund(hits: CountedHit[]): Promise<void> {
    for (const { key, store } of hits) await store.unhit(key);
  }

  async onModuleDestroy(): Promise<void> {
    await this.fallback.close();
  }
}
