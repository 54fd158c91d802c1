import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { ApplyContext, CommentEventPayload, DerivedStateHandler } from '@app/events';
import { VideoDetailCache, VideoRepository } from '@app/video';

type CommentKey = 'comment.publish' | 'comment.delete';

/** `comment.publish` / `comment.delete`: `videos.comments_count ± 1`, then the detail cache. */
@Injectable()
export class CommentHandlers {
  constructor(
    private readonly videos: VideoRepository,
    private readonly cache: VideoDetailCache,
  ) {}

  all(): DerivedStateHandler<CommentKey>[] {
    const make = (routingKey: CommentKey, delta: 1 | -1): DerivedStateHandler<CommentKey> => ({
      routingKey,
      apply: (_manager: EntityManager, p: CommentEventPayload, context: ApplyContext) => {
        this.videos.counters(context).add(p.video_id, { comments: delta });
        return Promise.resolve();
      },
      afterCommit: (p: CommentEventPayload) => this.cache.invalidate(p.video_id),
      afterCommitMany: (ps: CommentEventPayload[]) =>
        this.cache.invalidate(...new Set(ps.map((p) => p.video_id))),
    });
    return [make('comment.publish', 1), make('comment.delete', -1)];
  }
}
