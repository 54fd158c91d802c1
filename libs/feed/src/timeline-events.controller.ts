import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { AfterCommitEffect, EventContext, VideoEventPayload } from '@app/events';
import { LatestIndex } from './latest-index';
import { PublishedVideo, Timelines } from './timelines';

/**
 * The batch's published videos, once after commit: into the latest index (the request that
 * published them did it too, unless it crashed first) and fanned out to the timelines. A
 * redelivery pushes again: idempotent.
 */
class TimelineFanOut implements AfterCommitEffect {
  readonly videos: PublishedVideo[] = [];
  constructor(
    private readonly timelines: Timelines,
    private readonly latest: LatestIndex,
  ) {}

  async run(): Promise<void> {
    await this.latest.push(this.videos.map((v) => ({ id: v.videoId, time: v.createTime })));
    await this.timelines.fanOut(this.videos);
  }
}

/** The feed's derived state: following timelines and the latest index (issue 14). */
@Controller()
export class TimelineEventsController {
  constructor(
    private readonly timelines: Timelines,
    private readonly latest: LatestIndex,
  ) {}

  @EventPattern('video.publish')
  published(@Payload() p: VideoEventPayload, @Ctx() ctx: EventContext<'video.publish'>): void {
    ctx.apply
      .afterCommit('timeline.fanout', () => new TimelineFanOut(this.timelines, this.latest))
      .videos.push({ videoId: p.video_id, authorId: p.author_id, createTime: p.create_time });
  }
}
