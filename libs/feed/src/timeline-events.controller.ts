import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { AfterCommitEffect, EventContext, VideoEventPayload } from '@app/events';
import { PublishedVideo, Timelines } from './timelines';

/** The batch's published videos, fanned out once after commit (a redelivery pushes again: idempotent). */
class TimelineFanOut implements AfterCommitEffect {
  readonly videos: PublishedVideo[] = [];
  constructor(private readonly timelines: Timelines) {}

  run(): Promise<void> {
    return this.timelines.fanOut(this.videos);
  }
}

/** The feed's derived state: following timelines (issue 14). */
@Controller()
export class TimelineEventsController {
  constructor(private readonly timelines: Timelines) {}

  @EventPattern('video.publish')
  published(@Payload() p: VideoEventPayload, @Ctx() ctx: EventContext<'video.publish'>): void {
    ctx.apply
      .afterCommit('timeline.fanout', () => new TimelineFanOut(this.timelines))
      .videos.push({ videoId: p.video_id, authorId: p.author_id, createTime: p.create_time });
  }
}
