import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { EventContext, LikeEventPayload } from '@app/events';
import { LikesCountIndex, VideoDetailCache, VideoRepository } from '@app/video';

/** The like domain's derived state: `videos.likes_count`, the detail cache (SPEC §4) and the likes-count index. */
@Controller()
export class LikeEventsController {
  constructor(
    private readonly videos: VideoRepository,
    private readonly cache: VideoDetailCache,
    private readonly likesIndex: LikesCountIndex,
  ) {}

  @EventPattern('like.like')
  liked(@Payload() p: LikeEventPayload, @Ctx() ctx: EventContext<'like.like'>): void {
    this.count(p, ctx, 1);
  }

  @EventPattern('like.unlike')
  unliked(@Payload() p: LikeEventPayload, @Ctx() ctx: EventContext<'like.unlike'>): void {
    this.count(p, ctx, -1);
  }

  private count(p: LikeEventPayload, ctx: EventContext, delta: 1 | -1): void {
    this.videos.counters(ctx.apply).add(p.video_id, 'likes_count', delta);
    this.cache.invalidateAfterCommit(ctx.apply, p.video_id);
    this.likesIndex.markAfterCommit(ctx.apply, p.video_id);
  }
}
