import Redis, { Cluster } from 'ioredis';
import type { AppConfig } from '@app/core';
import type { RedisClient } from './cache-store';

/**
 * A connection of its own for SUBSCRIBE, on the configured Redis or Redis Cluster. Unlike the
 * cache's client, commands wait for a connection (a SUBSCRIBE queued while disconnected is sent on
 * connect) and subscriptions are restored after a reconnect; errors are left to the caller's
 * `status` checks (no log floods). Plain PUBLISH/SUBSCRIBE also works on a cluster: ioredis keeps
 * the subscription on one node and moves it on failover; the cluster forwards every PUBLISH to
 * every node.
 */
export function createSubscriber(c: AppConfig): RedisClient {
  const retry = (times: number): number => Math.min(100 * times, 2000);
  const options = {
    connectTimeout: Math.max(1000, c.redisTimeoutMs * 4),
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    autoResubscribe: true,
  };
  const sub: RedisClient =
    c.redisClusterNodes && c.redisClusterNodes.length > 0
      ? new Cluster(c.redisClusterNodes, {
          enableOfflineQueue: true,
          clusterRetryStrategy: retry,
          redisOptions: {
            ...options,
            username: c.redisClusterAuth?.username,
            password: c.redisClusterAuth?.password,
            ...(c.redisClusterAuth?.tls ? { tls: {} } : {}),
          },
        })
      : new Redis(c.redisUrl ?? '', { ...options, retryStrategy: retry });
  sub.on('error', () => undefined);
  return sub;
}

/** Closes a subscriber: QUIT, else a disconnect. */
export async function closeSubscriber(sub: RedisClient): Promise<void> {
  try {
    await sub.quit();
  } catch {
    sub.disconnect();
  }
}
