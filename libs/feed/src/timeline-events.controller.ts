import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { AfterCommitEffect, EventContext, SocialEventPayload, VideoEventPayload } from '@app/events';
import { AuthorIndex } from '@app/video';
import { LatestIndex } from './latest-index';
import { TagIndex } from './tag-index';
import { Timelines } from './timelines';

/** The published videos of one batch, as the handler received them. */
type Published = { videoId: number; authorId: number; createTime: number; tags: string[] };

/**
 * The batch's published videos, once after commit: into the latest, author and tag indexes (the
 * request that published them did it too, unless it crashed first) and fanned out to the
 * timelines. A redelivery pushes again: idempotent.
 */
class TimelineFanOut implements AfterCommitEffect {
  readonly videos: Published[] = [];
  constructor(
    private readonly timelines: Timelines,
    private readonly latest: LatestIndex,
    private readonly authors: AuthorIndex,
    private readonly tags: TagIndex,
  ) {}

  async run(): Promise<void> {
    await Promise.all([
      this.latest.push(this.videos.map((v) => ({ id: v.videoId, time: v.createTime }))),
      this.authors.push(
        this.videos.map((v) => ({ id: v.videoId, authorId: v.authorId, createTime: v.createTime })),
      ),
      this.tags.push(this.videos.map((v) => ({ id: v.videoId, createTime: v.createTime, tags: v.tags }))),
    ]);
    await this.timelines.fanOut(this.videos);
  }
}

/** The followers whose follows one batch changed: their timelines dropped once after commit ({@link Timelines.dropApplied}). */
class TimelineDrops implements AfterCommitEffect {
  readonly followers = new Set<number>();
  constructor(private readonly timelines: Timelines) {}

  run(): Promise<void> {
    return this.timelines.dropApplied([...this.followers]);
  }
}

/** The feed's derived state: following timelines and the latest, author and tag indexes (issue 14). */
@Controller()
export class TimelineEventsController {
  constructor(
    private readonly timelines: Timelines,
    private readonly latest: LatestIndex,
    private readonly authors: AuthorIndex,
    private readonly tags: TagIndex,
  ) {}

  @EventPattern('video.publish')
  published(@Payload() p: VideoEventPayload, @Ctx() ctx: EventContext<'video.publish'>): void {
    ctx.apply
      .afterCommit(
        'timeline.fanout',
        () => new TimelineFanOut(this.timelines, this.latest, this.authors, this.tags),
      )
      .videos.push({
        videoId: p.video_id,
        authorId: p.author_id,
        createTime: p.create_time,
        tags: p.tags ?? [],
      });
  }

  @EventPattern('social.follow')
  followed(@Payload() p: SocialEventPayload, @Ctx() ctx: EventContext<'social.follow'>): void {
    this.followsChanged(p, ctx);
  }

  @EventPattern('social.unfollow')
  unfollowed(@Payload() p: SocialEventPayload, @Ctx() ctx: EventContext<'social.unfollow'>): void {
    this.followsChanged(p, ctx);
  }

  private followsChanged(p: SocialEventPayload, ctx: EventContext): void {
    ctx.apply
      .afterCommit('timeline.drop', () => new TimelineDrops(this.timelines))
      .followers.add(p.follower_id);
  }
}
