import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { type AlsoSet, CacheKeys, CacheStore } from '@app/cache';

/** Outlives any page held under it many times over; an expired generation reads as "none". */
const GENERATION_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * A value that changes whenever any video's listed fields may have changed: every invalidation of a
 * detail entry (a publish, a delete, a count, an author's rename) writes a new one. A page held
 * under a generation is current for as long as the generation is. With Redis the generation is a
 * key shared by every process (a fresh random value per change, so an old one never comes back);
 * with the in-process store it is a counter of this process joined with the same key in that store
 * (the embedded profile applies every change here; `npm run recount` run in-process bumps the key).
 */
@Injectable()
export class VideoListGeneration {
  private local = 0;

  constructor(private readonly store: CacheStore) {}

  /** After a change committed. Never throws; a write Redis refused leaves holders stale until their own expiry. */
  async bump(): Promise<void> {
    await this.store.set(CacheKeys.videoListGeneration(), this.next().value, GENERATION_TTL_MS);
  }

  /**
   * A new generation for a change's own write to carry ({@link AlsoSet}: on one Redis server in the
   * same script, so the change and its generation land in one step, with no round trip of their own).
   */
  next(): AlsoSet {
    this.local++;
    return { key: CacheKeys.videoListGeneration(), value: randomUUID(), ttlMs: GENERATION_TTL_MS };
  }

  /** The current generation; undefined when it cannot be known (Redis configured but not answering). */
  async current(): Promise<string | undefined> {
    const key = CacheKeys.videoListGeneration();
    if (this.store.kind !== 'redis') return `local:${this.local}:${(await this.store.get(key)) ?? 'none'}`;
    // Held in this process (kept current by Redis): no round trip.
    const near = this.store.nearCache();
    const held = near?.get<string>(key);
    if (held !== undefined) return held;
    const ticket = near?.ticket(key);
    const v = await this.store.withRedis((redis, prefix) => redis.get(prefix + key), false, true, []);
    if (v === undefined) return undefined;
    if (ticket) near?.fill(ticket, v ?? 'none');
    return v ?? 'none';
  }
}
