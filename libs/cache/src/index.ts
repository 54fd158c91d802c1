export * from './cache-store';
export * from './cache-keys';
export * from './cache-aside.service';
export * from './cache-metrics';
export * from './cache.module';
export * from './circuit-breaker';
export { MemoryCacheStore } from './memory-cache.store';
export { RedisCacheStore } from './redis-cache.store';
