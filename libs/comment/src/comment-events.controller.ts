import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { CommentEventPayload, EventContext } from '@app/events';
import { VideoDetailCache, VideoRepository } from '@app/video';

/** The comment domain's derived state: `videos.comments_count` and the detail cache (SPEC §4). */
@Controller()
export class CommentEventsController {
  constructor(
    private readonly videos: VideoRepository,
    private readonly cache: VideoDetailCache,
  ) {}

  @EventPattern('comment.publish')
  published(@Payload() p: CommentEventPayload, @Ctx() ctx: EventContext<'comment.publish'>): void {
    this.count(p, ctx, 1);
  }

  @EventPattern('comment.delete')
  deleted(@Payload() p: CommentEventPayload, @Ctx() ctx: EventContext<'comment.delete'>): void {
    this.count(p, ctx, -1);
  }

  private count(p: CommentEventPayload, ctx: EventContext, delta: 1 | -1): void {
    this.videos.counters(ctx.apply).add(p.video_id, 'comments_count', delta);
    this.cache.invalidateAfterCommit(ctx.apply, p.video_id);
  }
}
