import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { CacheKeys, CacheStore, minuteBucket } from '@app/cache';
import { DependencyUnavailableError, nowMs } from '@app/core';
import type { AfterCommitEffect, EventContext, PopularityEventPayload } from '@app/events';
import { VideoDetailCache } from './video-detail.cache';
import { VideoRepository } from './video.repository';

/** Hot buckets live 2 h (SPEC §5); the per-event dedupe key as long. */
export const HOT_BUCKET_TTL_SECONDS = 2 * 60 * 60;

/**
 * For each event i (1-based pairs): KEYS[2i-1] its dedupe key, KEYS[2i] its minute bucket (all in
 * the `{video}` slot), the last key the buckets' version (bumped when any moved: the hot list's
 * current snapshot is rebuilt after it); ARGV[1] the ttl, ARGV[2i] its delta, ARGV[2i+1] its
 * member. A bucket moves only for an event never seen, so a redelivery counts once. One call for
 * a whole batch.
 */
const HOT_INCR = `local n = 0
for i = 1, #KEYS - 1, 2 do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1]) then
    redis.call('ZINCRBY', KEYS[i + 1], ARGV[i + 1], ARGV[i + 2])
    redis.call('EXPIRE', KEYS[i + 1], ARGV[1])
    n = n + 1
  end
end
if n > 0 then redis.call('INCR', KEYS[#KEYS]) end
return n`;

export const hotSeenKey = (eventId: string): string => `hot:{video}:seen:${eventId}`;

/** The batch's popularity events, added to their minute buckets by one script call after commit. */
class HotBuckets implements AfterCommitEffect {
  readonly events: PopularityEventPayload[] = [];
  constructor(private readonly store: CacheStore) {}

  async run(): Promise<void> {
    if (this.store.kind !== 'redis') return;
    // A bucket older than the window is never read again: don't resurrect it.
    const now = nowMs();
    const live = this.events.filter((p) => now - p.ts < HOT_BUCKET_TTL_SECONDS * 1000);
    if (live.length === 0) return;
    const result = await this.store.withRedis((redis, prefix) =>
      redis.eval(
        HOT_INCR,
        live.length * 2 + 1,
        ...live.flatMap((p) => [
          prefix + hotSeenKey(p.event_id),
          prefix + CacheKeys.hotBucket(minuteBucket(p.ts)),
        ]),
        prefix + CacheKeys.hotVersion,
        String(HOT_BUCKET_TTL_SECONDS),
        ...live.flatMap((p) => [String(p.delta), String(p.video_id)]),
      ),
    );
    // The database is already right; the caller retries the events later (uncounted).
    if (result === undefined) {
      throw new DependencyUnavailableError('redis', `hot buckets not updated for ${live.length} events`);
    }
  }
}

/** The video domain's derived state: popularity (SPEC §6). */
@Controller()
export class VideoEventsController {
  constructor(
    private readonly videos: VideoRepository,
    private readonly cache: VideoDetailCache,
    private readonly store: CacheStore,
  ) {}

  /** `videos.popularity += delta`; after commit, the detail cache and the hot bucket of the event's minute. */
  @EventPattern('video.popularity.update')
  popularityChanged(
    @Payload() p: PopularityEventPayload,
    @Ctx() ctx: EventContext<'video.popularity.update'>,
  ): void {
    this.videos.counters(ctx.apply).add(p.video_id, 'popularity', p.delta);
    this.cache.invalidateAfterCommit(ctx.apply, p.video_id);
    ctx.apply.afterCommit('video.hot-buckets', () => new HotBuckets(this.store)).events.push(p);
  }
}
