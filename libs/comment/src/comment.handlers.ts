import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { CommentEventPayload, DerivedStateHandler } from '@app/events';
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
      apply: (manager: EntityManager, p: CommentEventPayload) =>
        this.videos.adjustCounters(manager, p.video_id, { comments: delta }),
      afterCommit: (p: CommentEventPayload) => this.cache.invalidate(p.video_id),
    });
    return [make('comment.publish', 1), make('comment.delete', -1)];
  }
}
