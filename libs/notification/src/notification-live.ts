import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { CacheStore, closeSubscriber, createSubscriber, type RedisClient } from '@app/cache';
import { APP_CONFIG, type AppConfig } from '@app/core';
import type { NotificationView } from './notification.types';

/** What one account's streams are told, on every api process. */
export type LiveMessage =
  /** A new notification. */
  | { kind: 'notification'; notification: NotificationView }
  /** Notifications were marked read (`id` 0: all of them). */
  | { kind: 'read'; id: number }
  /** The account's access token changed (the previous one is revoked): check the streams' tokens. */
  | { kind: 'token' }
  /** These streams are over the per-account cap: close them. */
  | { kind: 'evict'; streams: string[] };

export type LiveListener = (message: LiveMessage) => void;

/** The Redis sorted set of an account's open streams on every api process (the stream cap keeps it). */
export const liveStreamsKey = (accountId: number): string => `notify:{${accountId}}:streams`;

/** How long a stream waits for Redis to confirm its SUBSCRIBE before it opens anyway. */
const SUBSCRIBE_WAIT_MS = 1000;
const KINDS = new Set<string>(['notification', 'read', 'token', 'evict']);

/**
 * The live side of notifications: messages for one account, delivered to that account's listeners
 * (its open streams) in this process at once and, with Redis, in every other process through
 * pub/sub on the channel `<REDIS_KEY_PREFIX>notify:<account id>`. A process subscribes to an
 * account's channel only while it holds a stream of that account, on a connection of its own
 * (created on the first subscribe: the worker, which only publishes, never opens one). Plain
 * PUBLISH/SUBSCRIBE, also on a Redis Cluster (ioredis keeps the subscription on one node and
 * moves it on failover; the cluster forwards every PUBLISH to every node). Pub/sub is at most
 * once: a process whose subscriber is down is told when it is back ({@link onResubscribed}) and
 * catches up from the database. Without Redis, listeners in this process only.
 */
@Injectable()
export class NotificationLive implements OnApplicationShutdown {
  private readonly logger = new Logger(NotificationLive.name);
  /** Tells this process's own messages from others' on the shared channels. */
  readonly instanceId = randomBytes(6).toString('hex');
  private readonly listeners = new Map<number, Set<LiveListener>>();
  private readonly subscribing = new Map<number, Promise<void>>();
  private readonly resubscribed = new Set<() => void>();
  private subscriber: RedisClient | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly cache: CacheStore,
  ) {}

  /** True when messages travel between processes (Redis configured). */
  get crossProcess(): boolean {
    return this.cache.kind === 'redis';
  }

  /** `up` while this process receives other processes' messages; `disabled` without Redis. */
  state(): 'up' | 'down' | 'disabled' {
    if (!this.crossProcess) return 'disabled';
    return this.subscriber?.status === 'ready' ? 'up' : 'down';
  }

  private channel(accountId: number): string {
    return `${this.config.redisKeyPrefix}notify:${accountId}`;
  }

  /**
   * Which of `accountIds` may have an open stream somewhere: listeners in this process, or (with
   * Redis) a stream registered by any api process. Unknown (Redis unavailable) counts as yes. Lets
   * a batch skip reading back and publishing notifications nobody is listening for; a stream that
   * opens meanwhile starts from the stored rows (its client reads the list and the count).
   */
  async listening(accountIds: number[]): Promise<Set<number>> {
    if (!this.crossProcess) return new Set(accountIds.filter((id) => this.listeners.has(id)));
    const exists = await this.cache.withRedis(async (redis, prefix) => {
      const keys = accountIds.map((id) => prefix + liveStreamsKey(id));
      // One write and one round trip for the batch; a cluster takes them one by one (other slots).
      if (redis.isCluster) return Promise.all(keys.map((k) => redis.exists(k)));
      const replies = (await redis.pipeline(keys.map((k) => ['exists', k])).exec()) ?? [];
      return replies.map(([err, n]) => (err ? 1 : Number(n)));
    });
    if (exists === undefined) return new Set(accountIds);
    return new Set(accountIds.filter((id, i) => exists[i] > 0 || this.listeners.has(id)));
  }

  /**
   * Delivers `message` to the account's listeners here, then publishes it to the other processes.
   * Never throws; false when Redis did not take it (its listeners elsewhere will catch up).
   */
  async publish(accountId: number, message: LiveMessage): Promise<boolean> {
    this.deliver(accountId, message);
    if (!this.crossProcess) return true;
    const payload = JSON.stringify({ o: this.instanceId, m: message });
    const sent = await this.cache.withRedis((redis, prefix) =>
      redis.publish(`${prefix}notify:${accountId}`, payload),
    );
    return sent !== undefined;
  }

  /**
   * Listens to the account's messages until the returned function is called. Resolves once Redis
   * confirmed the subscription, or after {@link SUBSCRIBE_WAIT_MS} if it does not answer.
   */
  async subscribe(accountId: number, listener: LiveListener): Promise<() => void> {
    let set = this.listeners.get(accountId);
    if (!set) {
      this.listeners.set(accountId, (set = new Set()));
      if (this.crossProcess) this.subscribing.set(accountId, this.redisSubscribe(accountId));
    }
    set.add(listener);
    await this.subscribing.get(accountId);
    return () => this.unsubscribe(accountId, listener);
  }

  /** Called each time the subscriber (re)connects: messages may have been missed meanwhile. */
  onResubscribed(fn: () => void): () => void {
    this.resubscribed.add(fn);
    return () => this.resubscribed.delete(fn);
  }

  private unsubscribe(accountId: number, listener: LiveListener): void {
    const set = this.listeners.get(accountId);
    if (!set || !set.delete(listener) || set.size > 0) return;
    this.listeners.delete(accountId);
    this.subscribing.delete(accountId);
    this.subscriber?.unsubscribe(this.channel(accountId)).catch(() => undefined);
  }

  private deliver(accountId: number, message: LiveMessage): void {
    for (const listener of this.listeners.get(accountId) ?? []) {
      try {
        listener(message);
      } catch (err) {
        this.logger.error(`notification listener failed: ${(err as Error).message}`);
      }
    }
  }

  private async redisSubscribe(accountId: number): Promise<void> {
    const sub = this.ensureSubscriber();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      sub.subscribe(this.channel(accountId)).then(
        () => undefined,
        () => undefined,
      ),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, SUBSCRIBE_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
  }

  private ensureSubscriber(): RedisClient {
    if (this.subscriber) return this.subscriber;
    // The stream service falls back to the database while it is down.
    const sub = createSubscriber(this.config);
    sub.on('message', (channel: string, payload: string) => this.onMessage(channel, payload));
    sub.on('ready', () => {
      for (const fn of this.resubscribed) fn();
    });
    this.subscriber = sub;
    return sub;
  }

  private onMessage(channel: string, payload: string): void {
    const prefix = `${this.config.redisKeyPrefix}notify:`;
    if (!channel.startsWith(prefix)) return;
    const accountId = Number(channel.slice(prefix.length));
    let parsed: { o?: unknown; m?: { kind?: unknown } };
    try {
      parsed = JSON.parse(payload) as typeof parsed;
    } catch {
      return;
    }
    if (parsed.o === this.instanceId || typeof parsed.m?.kind !== 'string' || !KINDS.has(parsed.m.kind))
      return;
    this.deliver(accountId, parsed.m as LiveMessage);
  }

  async onApplicationShutdown(): Promise<void> {
    const sub = this.subscriber;
    this.subscriber = null;
    if (sub) await closeSubscriber(sub);
  }
}
