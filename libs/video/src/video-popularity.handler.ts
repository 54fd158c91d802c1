import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { CacheKeys, CacheStore, minuteBucket } from '@app/cache';
import { nowMs } from '@app/core';
import type { DerivedStateHandler, PopularityEventPayload } from '@app/events';
import { VideoDetailCache } from './video-detail.cache';
import { VideoRepository } from './video.repository';

/** Hot buckets live 2 h (SPEC §5); the per-event dedupe key as long. */
export const HOT_BUCKET_TTL_SECONDS = 2 * 60 * 60;

/**
 * KEYS[1] dedupe key, KEYS[2] minute bucket (same `{video}` slot); ARGV delta, member, ttl.
 * The bucket moves only when this event was never seen, so a redelivery counts once.
 */
const HOT_INCR = `if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[3]) then
  redis.call('ZINCRBY', KEYS[2], ARGV[1], ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  return 1
end
return 0`;

export const hotSeenKey = (eventId: string): string => `hot:{video}:seen:${eventId}`;

/** `video.popularity.update`: `videos.popularity += delta`, then the hot bucket of the event's minute. */
@Injectable()
export class VideoPopularityHandler implements DerivedStateHandler<'video.popularity.update'> {
  readonly routingKey = 'video.popularity.update' as const;
  private readonly logger = new Logger(VideoPopularityHandler.name);

  constructor(
    private readonly videos: VideoRepository,
    private readonly cache: VideoDetailCache,
    private readonly store: CacheStore,
  ) {}

  async apply(manager: EntityManager, p: PopularityEventPayload): Promise<void> {
    await this.videos.adjustCounters(manager, p.video_id, { popularity: p.delta });
  }

  async afterCommit(p: PopularityEventPayload): Promise<void> {
    await this.cache.invalidate(p.video_id);
    if (this.store.kind !== 'redis') return;
    // A bucket older than the window is never read again: don't resurrect it.
    if (nowMs() - p.ts >= HOT_BUCKET_TTL_SECONDS * 1000) return;
    const result = await this.store.withRedis((redis, prefix) =>
      redis.eval(
        HOT_INCR,
        2,
        prefix + hotSeenKey(p.event_id),
        prefix + CacheKeys.hotBucket(minuteBucket(p.ts)),
        String(p.delta),
        String(p.video_id),
        String(HOT_BUCKET_TTL_SECONDS),
      ),
    );
    if (result === undefined) {
      // Surfaced to the caller (logged by the applier); the database is already right.
      throw new Error(`hot bucket not updated for event ${p.event_id}: Redis unavailable`);
    }
  }
}
