import {
  Global,
  Inject,
  Injectable,
  Module,
  OnApplicationShutdown,
  OnModuleInit,
  Optional,
} from '@nestjs/common';
import { APP_CONFIG, AppConfig, Database } from '@app/core';
import { CacheStore } from './cache-store';
import { MemoryCacheStore } from './memory-cache.store';
import { RedisCacheStore } from './redis-cache.store';
import { CacheAside } from './cache-aside.service';
import { CacheMetrics } from './cache-metrics';
import { CacheWriteMarks } from './write-marks';

@Injectable()
class CacheLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(CacheStore) private readonly store: CacheStore,
    @Optional() private readonly db?: Database,
  ) {}
  async onModuleInit(): Promise<void> {
    // With read replicas, "this account just wrote" is shared through Redis across api processes.
    if (this.store.kind === 'redis' && this.db?.reads.enabled) {
      this.db.reads.shareWith(new CacheWriteMarks(this.store));
    }
    await this.store.ready(2000);
  }
  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}

/** Redis (one server or a cluster) when the config names one, else the in-process store. */
export function createCacheStore(config: AppConfig): CacheStore {
  return config.redisClusterNodes || config.redisUrl
    ? new RedisCacheStore({
        url: config.redisUrl ?? undefined,
        clusterNodes: config.redisClusterNodes ?? undefined,
        clusterAuth: config.redisClusterAuth,
        keyPrefix: config.redisKeyPrefix,
        timeoutMs: config.redisTimeoutMs,
        nearCache: config.redisNearCache,
      })
    : new MemoryCacheStore();
}

/** Provides {@link CacheStore} (Redis or in-process by profile), {@link CacheAside} and metrics. */
@Global()
@Module({
  providers: [
    { provide: CacheStore, inject: [APP_CONFIG], useFactory: createCacheStore },
    CacheMetrics,
    CacheAside,
    CacheLifecycle,
  ],
  exports: [CacheStore, CacheAside, CacheMetrics],
})
export class CacheModule {}
