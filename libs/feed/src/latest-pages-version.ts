import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { CacheKeys, CacheStore, closeSubscriber, createSubscriber, type RedisClient } from '@app/cache';
import { APP_CONFIG, type AppConfig } from '@app/core';

/**
 * The version of the latest feed's first pages (issue 14, SPEC §7.5): a counter in Redis that a
 * publish, a delete or a rename increments after it has dropped those pages, and publishes on the
 * channel of the same name (`<REDIS_KEY_PREFIX>feed:listLatest:version`). Each api tags its own copy of a page
 * with the version it knew before reading the page, and serves the copy to a logged-in viewer only
 * while that is still the version: so the caller's own write shows on its next latest page from
 * any api, not after the copy's 5 s.
 *
 * While this process is subscribed (a connection of its own, opened by the first read) the version
 * is what the channel last said, with no command a request: Redis sends the message to every
 * subscriber before it answers the writer's PUBLISH, so before the writer answers its caller.
 * Until the subscription is confirmed and the counter read, and whenever the connection drops
 * (messages may be missed), it is read from Redis with the request; when that fails, undefined
 * (the copy is served, as without this). With the in-process store there is one process, whose
 * drops clear its copies themselves: the version never changes.
 */
@Injectable()
export class LatestPagesVersion implements OnApplicationShutdown {
  private subscriber: RedisClient | null = null;
  /** The version while subscribed (the counter read once, then what the channel says); else undefined. */
  private known: number | undefined;
  /** {@link known} as text (what a page is tagged with), kept so a request allocates nothing. */
  private knownText: string | undefined;
  /** The highest version the channel has said since the last (re)connection. */
  private told = 0;

  constructor(
    private readonly store: CacheStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Whether the version comes from the channel (no command a request). */
  get listening(): boolean {
    return this.known !== undefined;
  }

  /** After the pages were dropped. Never throws; a bump Redis refused leaves other apis' copies to their 5 s. */
  async bump(): Promise<void> {
    if (this.store.kind !== 'redis') return;
    const key = CacheKeys.latestFirstPagesVersion();
    await this.store.withRedis(async (redis, prefix) => {
      const v = await redis.incr(prefix + key);
      await redis.publish(prefix + key, String(v));
    });
  }

  /** The current version (a promise only when it must be read); undefined when it cannot be known. */
  current(): string | undefined | Promise<string | undefined> {
    if (this.store.kind !== 'redis') return 'local';
    if (this.knownText !== undefined) return this.knownText;
    this.listen();
    return this.read().then((v) => (v === undefined ? undefined : String(v)));
  }

  private async read(): Promise<number | undefined> {
    const key = CacheKeys.latestFirstPagesVersion();
    const v = await this.store.withRedis((redis, prefix) => redis.get(prefix + key));
    return v === undefined ? undefined : Number(v ?? 0);
  }

  private listen(): void {
    if (this.subscriber !== null) return;
    const channel = this.config.redisKeyPrefix + CacheKeys.latestFirstPagesVersion();
    const sub = createSubscriber(this.config);
    this.subscriber = sub;
    sub.on('message', (ch: string, payload: string) => {
      const v = Number(payload);
      if (ch !== channel || !Number.isSafeInteger(v)) return;
      this.told = Math.max(this.told, v);
      if (this.known !== undefined) this.setKnown(Math.max(this.known, v));
    });
    const lost = (): void => this.setKnown(undefined);
    sub.on('close', lost);
    sub.on('reconnecting', lost);
    // Each (re)connection: subscribed first, then the counter read (a bump between the two is
    // told, and the higher of both is kept).
    sub.on('ready', () => {
      this.told = 0;
      sub.subscribe(channel).then(
        async () => {
          const v = await this.read();
          if (v !== undefined && this.subscriber === sub && sub.status === 'ready')
            this.setKnown(Math.max(v, this.told));
        },
        () => undefined,
      );
    });
  }

  private setKnown(v: number | undefined): void {
    this.known = v;
    this.knownText = v === undefined ? undefined : String(v);
  }

  async onApplicationShutdown(): Promise<void> {
    const sub = this.subscriber;
    this.subscriber = null;
    this.setKnown(undefined);
    if (sub) await closeSubscriber(sub);
  }
}
