import { Injectable } from '@nestjs/common';
import { isDuplicateKey, nowMs } from '@app/core';
import { EventBus, makeEvent } from '@app/events';
import { VideoErrors, VideoRepository, toVideoView, VideoView } from '@app/video';
import { LikeErrors } from './like.errors';
import { LikeRepository } from './like.repository';

export interface LikedVideoView extends VideoView {
  like_id: number;
}

@Injectable()
export class LikeService {
  constructor(
    private readonly bus: EventBus,
    private readonly likes: LikeRepository,
    private readonly videos: VideoRepository,
  ) {}

  /** 404 video, 409 already liked (nothing written). Hot path: 4 round trips, no exclusive lock. */
  async like(accountId: number, videoId: number): Promise<void> {
    try {
      await this.bus.transaction(async (manager, emit) => {
        const ts = nowMs();
        // The video's existence check and its guard against a concurrent delete, folded into the insert.
        if ((await this.likes.insertIfVideoExists(manager, { accountId, videoId, createTime: ts })) === 0) {
          throw VideoErrors.notFound();
        }
        emit(makeEvent('like.like', { account_id: accountId, video_id: videoId }, ts));
        emit(makeEvent('video.popularity.update', { video_id: videoId, delta: 1, reason: 'like' }, ts));
      });
    } catch (err) {
      if (isDuplicateKey(err)) throw LikeErrors.alreadyLiked();
      throw err;
    }
  }

  /**
   * 404 video, 409 not liked. No video lock: a like row exists only while its video does (see
   * {@link like}), and deleting the row takes its own lock, which a concurrent video delete waits on.
   */
  async unlike(accountId: number, videoId: number): Promise<void> {
    await this.bus.transaction(async (manager, emit) => {
      if ((await this.likes.delete(manager, accountId, videoId)) === 0) {
        if (!(await this.videos.existsIn(manager, videoId))) throw VideoErrors.notFound();
        throw LikeErrors.notLiked();
      }
      const ts = nowMs();
      emit(makeEvent('like.unlike', { account_id: accountId, video_id: videoId }, ts));
      emit(makeEvent('video.popularity.update', { video_id: videoId, delta: -1, reason: 'unlike' }, ts));
    });
  }

  /** Never cached: reflects the caller's own writes at once. */
  async isLiked(accountId: number, videoId: number): Promise<boolean> {
    if (!(await this.videos.exists(videoId))) throw VideoErrors.notFound();
    return this.likes.isLiked(accountId, videoId);
  }

  /** Most recently liked first; each item carries `like_id` (the cursor). */
  async listMyLikedVideos(
    accountId: number,
    idBefore: number | undefined,
    limit: number,
  ): Promise<LikedVideoView[]> {
    const page = await this.likes.listByAccount(accountId, idBefore, limit);
    const videos = new Map(
      (await this.videos.findByIds(page.map((l) => l.videoId))).map((v) => [v.id, v] as const),
    );
    const out: LikedVideoView[] = [];
    for (const like of page) {
      const v = videos.get(like.videoId);
      if (v) out.push({ ...toVideoView(v), like_id: like.id });
    }
    return out;
  }
}
