import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { CommentEventPayload, EventContext, LikeEventPayload, SocialEventPayload } from '@app/events';
import { NotificationBatch } from './notification-batch';
import { NotificationLive } from './notification-live';
import { NotificationRepository } from './notification.repository';

const KEY = 'notification';

/**
 * Notifications are derived state (SPEC §8.4): created by these handlers next to the counters',
 * in the same transaction that records the event, so each event notifies at most once on every
 * path (worker, the api's fallback, the source transaction without a broker).
 */
@Controller()
export class NotificationEventsController {
  constructor(
    private readonly repo: NotificationRepository,
    private readonly live: NotificationLive,
  ) {}

  @EventPattern('like.like')
  liked(@Payload() p: LikeEventPayload, @Ctx() ctx: EventContext<'like.like'>): void {
    this.batch(ctx).add({
      kind: 'like',
      eventId: p.event_id,
      ts: p.ts,
      actorId: p.account_id,
      videoId: p.video_id,
    });
  }

  @EventPattern('comment.publish')
  commented(@Payload() p: CommentEventPayload, @Ctx() ctx: EventContext<'comment.publish'>): void {
    this.batch(ctx).add({
      kind: 'comment',
      eventId: p.event_id,
      ts: p.ts,
      actorId: p.account_id,
      videoId: p.video_id,
      commentId: p.comment_id,
    });
  }

  @EventPattern('comment.delete')
  commentDeleted(@Payload() p: CommentEventPayload, @Ctx() ctx: EventContext<'comment.delete'>): void {
    this.batch(ctx).forgetComment(p.video_id, p.comment_id);
  }

  @EventPattern('social.follow')
  followed(@Payload() p: SocialEventPayload, @Ctx() ctx: EventContext<'social.follow'>): void {
    this.batch(ctx).add({
      kind: 'follow',
      eventId: p.event_id,
      ts: p.ts,
      actorId: p.follower_id,
      targetId: p.vlogger_id,
    });
  }

  /** The transaction's one batch: its deferred write and, the same object, its after-commit effect. */
  private batch(ctx: EventContext): NotificationBatch {
    const batch = ctx.apply.defer(KEY, () => new NotificationBatch(this.repo, this.live));
    ctx.apply.afterCommit(KEY, () => batch);
    return batch;
  }
}
