import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { CacheKeys, CacheStore, HOT_WINDOW_ADD_LUA, minuteBucket, RedisScript } from '@app/cache';
import { nowMs } from '@app/core';
import {
  CONSUMER_QUEUES,
  HandOff,
  onQueue,
  type AfterCommitEffect,
  type EventContext,
  type PopularityEventPayload,
} from '@app/events';
import { VideoDetailCache } from './video-detail.cache';
import { VideoRepository } from './video.repository';

/** Hot buckets live 2 h (SPEC §5); the per-event dedupe key as long. */
export const HOT_BUCKET_TTL_SECONDS = 2 * 60 * 60;

/**
 * For each event i (1-based pairs): KEYS[2i-1] its dedupe key, KEYS[2i] its minute bucket (all in
 * the `{video}` slot); then the buckets' version (bumped when any moved: the hot list's current
 * snapshot is rebuilt after it), the running window and its state (`<low minute>:<version>`).
 * ARGV[1] the ttl, then per event its delta, member and minute (unix s). A bucket moves only for an
 * event never seen, so a redelivery counts once; the window moves with it when it exists and the
 * minute is in it (a minute below its low has already left it). The window holds the version its
 * last writer bumped to: when the version moved without it (a writer that does not know the window,
 * such as an older build during a rolling deploy), the window is dropped, and the next build makes
 * it again from the buckets. One call for a whole batch.
 */
const HOT_INCR = new RedisScript(
  'fsvHotIncr',
  'any',
  `${HOT_WINDOW_ADD_LUA}
local events = #KEYS - 3
local win, state = KEYS[events + 2], KEYS[events + 3]
local ok, res = pcall(function()
  local n = 0
  local low, seen = string.match(redis.call('GET', state) or '', '^(%d+):(%d+)$')
  if low and redis.call('EXISTS', win) == 0 then low = nil end
  low = tonumber(low)
  for i = 1, events, 2 do
    local a = (i - 1) / 2 * 3 + 2
    if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1]) then
      redis.call('ZINCRBY', KEYS[i + 1], ARGV[a], ARGV[a + 1])
      redis.call('EXPIRE', KEYS[i + 1], ARGV[1])
      if low and tonumber(ARGV[a + 2]) >= low then hotWindowAdd(win, tonumber(ARGV[a]), ARGV[a + 1]) end
      n = n + 1
    end
  end
  if n > 0 then
    local version = redis.call('INCR', KEYS[events + 1])
    if low and tonumber(seen) == version - 1 then
      redis.call('SET', state, low .. ':' .. version, 'EX', ARGV[1])
      redis.call('EXPIRE', win, ARGV[1])
    elseif low then
      redis.call('UNLINK', win, state)
    end
  end
  return n
end)
if ok then return res end
-- A command failed part way, and Redis keeps what ran before it: a bucket may hold an increment the
-- window missed, so the window goes (the next build makes it from the buckets), and the version
-- moves (the current snapshot is rebuilt). The events are retried; their dedupe keys keep the ones
-- already counted from counting twice.
redis.call('UNLINK', win, state)
redis.call('INCR', KEYS[events + 1])
return redis.error_reply(type(res) == 'table' and res.err or tostring(res))`,
);

export const hotSeenKey = (eventId: string): string => `hot:{video}:seen:${eventId}`;

/** The batch's popularity events, added to their minute buckets by one script call after commit. */
export class HotBuckets implements AfterCommitEffect {
  readonly events: PopularityEventPayload[] = [];
  constructor(private readonly store: CacheStore) {}

  async run(): Promise<void> {
    if (this.store.kind !== 'redis') return;
    // A bucket older than the window is never read again: don't resurrect it.
    const now = nowMs();
    const live = this.events.filter((p) => now - p.ts < HOT_BUCKET_TTL_SECONDS * 1000);
    if (live.length === 0) return;
    const result = await this.store.withRedis((redis, prefix) =>
      HOT_INCR.run(
        redis,
        [
          ...live.flatMap((p) => [
            prefix + hotSeenKey(p.event_id),
            prefix + CacheKeys.hotBucket(minuteBucket(p.ts)),
          ]),
          prefix + CacheKeys.hotVersion,
          prefix + CacheKeys.hotWindow,
          prefix + CacheKeys.hotWindowState,
        ],
        [
          String(HOT_BUCKET_TTL_SECONDS),
          ...live.flatMap((p) => [
            String(p.delta),
            String(p.video_id),
            String(Math.floor(p.ts / 60_000) * 60),
          ]),
        ],
      ),
    );
    // The database is already right; the worker hands the events over to `hot.worker`, which
    // retries the buckets alone (uncounted); elsewhere they are retried whole.
    if (result === undefined) {
      throw new HandOff(
        CONSUMER_QUEUES.hot.name,
        'redis',
        `hot buckets not updated for ${live.length} events`,
      );
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

  /** `videos.popularity += delta`; after commit, the detail cache. */
  @EventPattern('video.popularity.update')
  popularityChanged(
    @Payload() p: PopularityEventPayload,
    @Ctx() ctx: EventContext<'video.popularity.update'>,
  ): void {
    this.videos.counters(ctx.apply).add(p.video_id, 'popularity', p.delta);
    this.cache.invalidateAfterCommit(ctx.apply, p.video_id);
  }

  /**
   * The hot bucket of the event's minute, after commit (deduped per `event_id` in Redis). In the
   * worker it runs with the column (`popularity.worker`); while Redis is down its failure hands
   * the event over to `hot.worker`, whose lane runs this handler alone, with no transaction, until
   * Redis is back, so the column above is not held back. The direct paths (no broker, an
   * unconfirmed publish, the outbox relay) run both handlers.
   */
  @EventPattern('video.popularity.update', onQueue(CONSUMER_QUEUES.popularity, CONSUMER_QUEUES.hot))
  hotBucket(@Payload() p: PopularityEventPayload, @Ctx() ctx: EventContext<'video.popularity.update'>): void {
    ctx.apply.afterCommit('video.hot-buckets', () => new HotBuckets(this.store)).events.push(p);
  }
}
