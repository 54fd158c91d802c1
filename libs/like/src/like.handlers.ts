import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { ApplyContext, DerivedStateHandler, LikeEventPayload } from '@app/events';
import { VideoDetailCache, VideoRepository } from '@app/video';

/** `like.like` / `like.unlike`: `videos.likes_count ± 1`, then the detail cache. */
function likeCountHandler(
  routingKey: 'like.like' | 'like.unlike',
  delta: 1 | -1,
  videos: VideoRepository,
  cache: VideoDetailCache,
): DerivedStateHandler<typeof routingKey> {
  return {
    routingKey,
    apply: (_manager: EntityManager, p: LikeEventPayload, context: ApplyContext) => {
      videos.counters(context).add(p.video_id, { likes: delta });
      return Promise.resolve();
    },
    afterCommit: (p: LikeEventPayload) => cache.invalidate(p.video_id),
    afterCommitMany: (ps: LikeEventPayload[]) => cache.invalidate(...new Set(ps.map((p) => p.video_id))),
  };
}

@Injectable()
export class LikeHandlers {
  constructor(
    private readonly videos: VideoRepository,
    private readonly cache: VideoDetailCache,
  ) {}

  all(): DerivedStateHandler<'like.like' | 'like.unlike'>[] {
    return [
      likeCountHandler('like.like', 1, this.videos, this.cache),
      likeCountHandler('like.unlike', -1, this.videos, this.cache),
    ];
  }
}
