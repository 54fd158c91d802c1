import { Injectable, Logger } from '@nestjs/common';
import { Database, IdempotencyService, nowMs } from '@app/core';
import { VideoDeleteHooks } from './video-delete.hooks';
import { VideoDetailCache } from './video-detail.cache';
import { VideoErrors } from './video.errors';
import { VideoRepository } from './video.repository';
import { toVideoView, VideoView } from './video.view';
import { lockAuthorName } from './row-lock';

export interface PublishVideoInput {
  title: string;
  description: string;
  playUrl: string;
  coverUrl: string;
}

export const VIDEO_PUBLISH_ROUTE = 'video/publish';

@Injectable()
export class VideoService {
  private readonly logger = new Logger(VideoService.name);

  constructor(
    private readonly db: Database,
    private readonly videos: VideoRepository,
    private readonly cache: VideoDetailCache,
    private readonly deleteHooks: VideoDeleteHooks,
    private readonly idempotency: IdempotencyService,
  ) {}

  /** Counters start at 0. With an idempotency key, a retry replays the first response. */
  async publish(authorId: number, input: PublishVideoInput, idempotencyKey?: string): Promise<VideoView> {
    const scope = idempotencyKey
      ? { accountId: authorId, route: VIDEO_PUBLISH_ROUTE, key: idempotencyKey }
      : null;
    return this.idempotency.once<VideoView>(scope, async (save) => {
      const view = await this.db.transaction(async (manager) => {
        const username = await lockAuthorName(manager, this.db.dialect, authorId);
        if (username === null) throw VideoErrors.authorNotFound();
        const row = await this.videos.insert(manager, {
          authorId,
          username,
          title: input.title,
          description: input.description,
          playUrl: input.playUrl,
          coverUrl: input.coverUrl,
          createTime: nowMs(),
          likesCount: 0,
          commentsCount: 0,
          popularity: 0,
        });
        const v = toVideoView(row);
        await save(manager, v);
        return v;
      });
      // A lookup of this id before it existed may have left a negative entry.
      await this.cache.invalidate(view.id);
      return view;
    });
  }

  async listByAuthor(authorId: number, idBefore: number | undefined, limit: number): Promise<VideoView[]> {
    return (await this.videos.listByAuthor(authorId, idBefore, limit)).map(toVideoView);
  }

  /** Cached (SPEC §5); 404 for an unknown id. */
  async getDetail(id: number): Promise<VideoView> {
    const view = await this.cache.get(id, async () => {
      const v = await this.videos.findById(id);
      return v ? toVideoView(v) : null;
    });
    if (!view) throw VideoErrors.notFound();
    return view;
  }

  /** 404, 403 not the author; removes the video with its likes and comments in one transaction. */
  async delete(accountId: number, id: number): Promise<void> {
    await this.db.transaction(async (manager) => {
      const video = await this.videos.lockById(manager, id);
      if (!video) throw VideoErrors.notFound();
      if (video.authorId !== accountId) throw VideoErrors.notAuthor();
      await this.deleteHooks.run(manager, id);
      await this.videos.delete(manager, id);
    });
    await this.cache.invalidate(id);
    this.logger.debug(`video ${id} deleted by ${accountId}`);
  }
}
