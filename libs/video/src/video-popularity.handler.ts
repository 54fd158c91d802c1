import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { CacheKeys, CacheStore, minuteBucket } from '@app/cache';
import { nowMs } from '@app/core';
import type { ApplyContext, DerivedStateHandler, PopularityEventPayload } from '@app/events';
import { VideoDetailCache } from './video-detail.cache';
import { VideoRepository } from './video.repository';

/** Hot buckets live 2 h (SPEC §5); the per-event dedupe key as long. */
export const HOT_BUCKET_TTL_SECONDS = 2 * 60 * 60;

/**
 * For each event i (1-based pairs): KEYS[2i-1] its dedupe key, KEYS[2i] its minute bucket (all in
 * the `{video}` slot); ARGV[1] the ttl, ARGV[2i] its delta, ARGV[2i+1] its member. A bucket moves
 * only for an event never seen, so a redelivery counts once. One call for a whole batch.
 */
const HOT_INCR = `local n = 0
for i = 1, #KEYS, 2 do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1]) then
    redis.call('ZINCRBY', KEYS[i + 1], ARGV[i + 1], ARGV[i + 2])
    redis.call('EXPIRE', KEYS[i + 1], ARGV[1])
    n = n + 1
  end
end
return n`;

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

  apply(_manager: EntityManager, p: PopularityEventPayload, context: ApplyContext): Promise<void> {
    this.videos.counters(context).add(p.video_id, { popularity: p.delta });
    return Promise.resolve();
  }

  afterCommit(p: PopularityEventPayload): Promise<void> {
    return this.afterCommitMany([p]);
  }

  /** The batch's detail keys (each video once), then its hot buckets in one script call. */
  async afterCommitMany(ps: PopularityEventPayload[]): Promise<void> {
    await this.cache.invalidate(...new Set(ps.map((p) => p.video_id)));
    if (this.store.kind !== 'redis') return;
    // A bucket older than the window is never read again: don't resurrect it.
    const now = nowMs();
    const live = ps.filter((p) => now - p.ts < HOT_BUCKET_TTL_SECONDS * 1000);
    if (live.length === 0) return;
    const result = await this.store.withRedis((redis, prefix) =>
      redis.eval(
        HOT_INCR,
        live.length * 2,
        ...live.flatMap((p) => [
          prefix + hotSeenKey(p.event_id),
          prefix + CacheKeys.hotBucket(minuteBucket(p.ts)),
        ]),
        String(HOT_BUCKET_TTL_SECONDS),
        ...live.flatMap((p) => [String(p.delta), String(p.video_id)]),
      ),
    );
    if (result === undefined) {
      // Surfaced to the caller (logged by the applier); the database is already right.
      throw new Error(`hot buckets not updated for ${live.length} events: Redis unavailable`);
    }
  }
}
