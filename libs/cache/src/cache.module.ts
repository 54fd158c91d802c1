import { Global, Inject, Injectable, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@app/core';
import { CacheStore } from './cache-store';
import { MemoryCacheStore } from './memory-cache.store';
import { RedisCacheStore } from './redis-cache.store';
import { CacheAside } from './cache-aside.service';
import { CacheMetrics } from './cache-metrics';

@Injectable()
class CacheLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(@Inject(CacheStore) private readonly store: CacheStore) {}
  async onModuleInit(): Promise<void> {
    await this.store.ready(2000);
  }
  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}

/** Provides {@link CacheStore} (Redis or in-process by profile), {@link CacheAside} and metrics. */
@Global()
@Module({
  providers: [
    {
      provide: CacheStore,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig): CacheStore =>
        config.redisUrl
          ? new RedisCacheStore({
              url: config.redisUrl,
              keyPrefix: config.redisKeyPrefix,
              timeoutMs: config.redisTimeoutMs,
            })
          : new MemoryCacheStore(),
    },
    CacheMetrics,
    CacheAside,
    CacheLifecycle,
  ],
  exports: [CacheStore, CacheAside, CacheMetrics],
})
export class CacheModule {}
