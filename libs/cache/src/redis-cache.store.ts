import { Logger } from '@nestjs/common';
import Redis, { Cluster } from 'ioredis';
import { CacheStore, DependencyState } from './cache-store';
import { CircuitBreaker } from './circuit-breaker';

const DEL_IF_EQUALS = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
const HIT = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local t = redis.call('PTTL', KEYS[1])
if t < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); t = tonumber(ARGV[1]) end
return {n, t}`;

export interface RedisStoreOptions {
  url: string;
  keyPrefix: string;
  timeoutMs: number;
  onStateChange?: (state: DependencyState) => void;
}

/**
 * Redis behind a short per-command timeout and a circuit breaker. The offline queue is off:
 * while disconnected a command fails at once instead of waiting for a reconnect.
 */
export class RedisCacheStore extends CacheStore {
  readonly kind = 'redis' as const;
  private readonly logger = new Logger('RedisCache');
  private readonly client: Redis;
  private readonly breaker: CircuitBreaker;
  private readonly prefix: string;
  private readonly timeoutMs: number;

  constructor(opts: RedisStoreOptions) {
    super();
    this.prefix = opts.keyPrefix;
    this.timeoutMs = opts.timeoutMs;
    this.breaker = new CircuitBreaker(3, 1000, (open) => {
      this.logger.warn(
        open ? 'Redis unavailable: circuit open, using fallbacks' : 'Redis back: circuit closed',
      );
      opts.onStateChange?.(open ? 'down' : 'up');
    });
    this.client = new Redis(opts.url, {
      lazyConnect: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: opts.timeoutMs,
      connectTimeout: Math.max(1000, opts.timeoutMs * 4),
      retryStrategy: (times) => Math.min(100 * times, 1000),
      reconnectOnError: () => false,
      // Commands issued in the same tick (a consumer batch's invalidations and hot-bucket
      // scripts, concurrent requests' lookups) go out in one write: one syscall, not one each.
      enableAutoPipelining: true,
    });
    this.client.on('error', () => undefined); // state is tracked by the breaker; avoid log floods
  }

  /** For code that needs the raw client type (e.g. hash-tag aware helpers). */
  get isCluster(): boolean {
    return this.client instanceof Cluster;
  }

  state(): DependencyState {
    return this.breaker.isOpen || this.client.status !== 'ready' ? 'down' : 'up';
  }

  private k(key: string): string {
    return this.prefix + key;
  }

  private async call<T>(op: () => Promise<T>, fallback: T): Promise<T> {
    if (!this.breaker.allow()) return fallback;
    if (this.client.status !== 'ready') {
      this.breaker.failure();
      return fallback;
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        op(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('redis timeout')), this.timeoutMs);
        }),
      ]);
      this.breaker.success();
      return result;
    } catch {
      this.breaker.failure();
      return fallback;
    } finally {
      clearTimeout(timer);
    }
  }

  get(key: string): Promise<string | null> {
    return this.call(() => this.client.get(this.k(key)), null);
  }

  mget(keys: string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return Promise.resolve([]);
    return this.call(
      () => this.client.mget(keys.map((k) => this.k(k))),
      keys.map(() => null),
    );
  }

  set(key: string, value: string, ttlMs: number): Promise<boolean> {
    return this.call(async () => (await this.client.set(this.k(key), value, 'PX', ttlMs)) === 'OK', false);
  }

  setNx(key: string, value: string, ttlMs: number): Promise<boolean | null> {
    return this.call<boolean | null>(
      async () => (await this.client.set(this.k(key), value, 'PX', ttlMs, 'NX')) === 'OK',
      null,
    );
  }

  del(...keys: string[]): Promise<boolean> {
    if (keys.length === 0) return Promise.resolve(true);
    return this.call(async () => {
      // One DEL per key: keys may live in different cluster slots.
      await Promise.all(keys.map((k) => this.client.del(this.k(k))));
      return true;
    }, false);
  }

  delIfEquals(key: string, value: string): Promise<boolean> {
    return this.call(async () => {
      await this.client.eval(DEL_IF_EQUALS, 1, this.k(key), value);
      return true;
    }, false);
  }

  hit(key: string, windowMs: number): Promise<{ count: number; ttlMs: number } | null> {
    return this.call<{ count: number; ttlMs: number } | null>(async () => {
      const [count, ttl] = (await this.client.eval(HIT, 1, this.k(key), String(windowMs))) as [
        number,
        number,
      ];
      return { count, ttlMs: ttl };
    }, null);
  }

  pexpire(key: string, ttlMs: number): Promise<boolean> {
    return this.call(async () => (await this.client.pexpire(this.k(key), ttlMs)) === 1, false);
  }

  withRedis<T>(op: (redis: Redis, prefix: string) => Promise<T>): Promise<T | undefined> {
    return this.call<T | undefined>(() => op(this.client, this.prefix), undefined);
  }

  /** Waits (bounded) for the first connection so a fresh process starts with Redis `up`. */
  override async ready(timeoutMs: number): Promise<void> {
    if (this.client.status === 'ready') return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.client.once('ready', done);
    });
  }

  async close(): Promise<void> {
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
