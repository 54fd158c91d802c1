import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { CacheKeys, CacheStore, MemoryCacheStore } from '@app/cache';
import { APP_CONFIG } from '@app/core';
import type { AppConfig, RateLimitName } from '@app/core';

export interface RateLimitSubject {
  name: RateLimitName;
  /** e.g. `a:42` (account), `ip:10.0.0.1`, `u:alice` (login username). */
  subject: string;
}

/**
 * Fixed-window counters in Redis (`CacheStore.hit`), falling back to a per-process counter
 * whenever Redis does not answer: limits never fail open.
 */
@Injectable()
export class RateLimiter implements OnModuleDestroy {
  private readonly logger = new Logger(RateLimiter.name);
  private readonly fallback = new MemoryCacheStore(100_000);

  constructor(
    private readonly cache: CacheStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  isEnabled(name: RateLimitName): boolean {
    return this.config.rateLimits[name] !== null;
  }

  /** Counts one hit on each; resolves the seconds to wait when any is exceeded, else null. */
  async hit(subjects: RateLimitSubject[]): Promise<number | null> {
    let retryAfter: number | null = null;
    for (const { name, subject } of subjects) {
      const rule = this.config.rateLimits[name];
      if (!rule) continue;
      const key = CacheKeys.rateLimit(name, subject);
      const windowMs = rule.windowSeconds * 1000;
      let r = await this.cache.hit(key, windowMs);
      if (r === null) {
        r = await this.fallback.hit(key, windowMs);
      }
      if (r.count > rule.limit) {
        const wait = Math.max(1, Math.ceil(r.ttlMs / 1000));
        retryAfter = Math.max(retryAfter ?? 0, wait);
      }
    }
    return retryAfter;
  }

  async onModuleDestroy(): Promise<void> {
    await this.fallback.close();
  }
}
