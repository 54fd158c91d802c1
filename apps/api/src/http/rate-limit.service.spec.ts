import { CacheStore, MemoryCacheStore } from '@app/cache';
import { DEFAULT_RATE_LIMITS } from '@app/core';
import type { AppConfig } from '@app/core';
import { RateLimiter } from './rate-limit.service';

describe('RateLimiter', () => {
  let cache: MemoryCacheStore;
  let limiter: RateLimiter;
  beforeEach(() => {
    cache = new MemoryCacheStore();
    const config = {
      rateLimits: {
        ...DEFAULT_RATE_LIMITS,
        login: { limit: 2, windowSeconds: 60 },
        loginUser: { limit: 1, windowSeconds: 60 },
      },
    } as AppConfig;
    limiter = new RateLimiter(cache, config);
  });
  afterEach(async () => {
    await limiter.onModuleDestroy();
    await cache.close();
  });

  it('stops at the first subject over its limit: later subjects are not counted (no new keys)', async () => {
    const subjects = (u: string) => [
      { name: 'login' as const, subject: 'ip:1.2.3.4' },
      { name: 'loginUser' as const, subject: `u:${u}` },
    ];
    expect((await limiter.consume(subjects('a'))).retryAfter).toBeNull();
    expect((await limiter.consume(subjects('b'))).retryAfter).toBeNull();
    const third = await limiter.consume(subjects('c'));
    expect(third.retryAfter).toBeGreaterThanOrEqual(1);
    expect(third.counted.map((h) => h.name)).toEqual(['login']);
    await expect(cache.get('rl:loginUser:u:c')).resolves.toBeNull();
  });

  it('refund gives counted hits back to the store that counted them', async () => {
    const s = [{ name: 'login' as const, subject: 'ip:9.9.9.9' }];
    const { counted } = await limiter.consume(s);
    await limiter.refund(counted);
    await limiter.consume(s);
    await limiter.consume(s);
    expect((await limiter.consume(s)).retryAfter).not.toBeNull();
  });

  it('falls back to its own store when the cache does not answer, never failing open', async () => {
    jest.spyOn(cache as CacheStore, 'hit').mockResolvedValue(null);
    const s = [{ name: 'login' as const, subject: 'ip:5.5.5.5' }];
    await limiter.consume(s);
    await limiter.consume(s);
    expect((await limiter.consume(s)).retryAfter).not.toBeNull();
  });
});
