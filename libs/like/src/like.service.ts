import { Injectable } from '@nestjs/common';
import { Database, failed, GroupCommit, nowMs, succeeded, type Outcome } from '@app/core';
import { EventBus, makeEvent } from '@app/events';
import { VideoErrors, VideoRepository, toVideoView, VideoView } from '@app/video';
import { LikeErrors } from './like.errors';
import { LikeRepository } from './like.repository';
import { LikedSets } from './liked-sets';

interface LikeOp {
  kind: 'like' | 'unlike';
  accountId: number;
  videoId: number;
}

/** Writes per batch; batches in flight at once (MySQL; SQLite serialises transactions anyway). */
const MAX_BATCH = 128;
const MAX_IN_FLIGHT_MYSQL = 4;

export interface LikedVideoView extends VideoView {
  like_id: number;
}

@Injectable()
export class LikeService {
  constructor(
    private readonly bus: EventBus,
    private readonly likes: LikeRepository,
    private readonly videos: VideoRepository,
    private readonly db: Database,
    private readonly likedSets: LikedSets,
  ) {
    this.writes = new GroupCommit((ops, committed) => this.writeBatch(ops, committed), {
      maxBatch: MAX_BATCH,
      maxInFlight: db.dialect === 'mysql' ? MAX_IN_FLIGHT_MYSQL : 1,
    });
  }

  private readonly writes: GroupCommit<LikeOp, void>;

  /** 404 video, 409 already liked (nothing written). Group-committed with concurrent likes. */
  like(accountId: number, videoId: number): Promise<void> {
    return this.writes.submit({ kind: 'like', accountId, videoId });
  }

  /**
   * 404 video, 409 not liked. No video lock: a like row exists only while its video does (see
   * {@link LikeRepository.insertManyIfVideosExist}), and deleting the row takes its own lock,
   * which a concurrent video delete waits on.
   */
  unlike(accountId: number, videoId: number): Promise<void> {
    return this.writes.submit({ kind: 'unlike', accountId, videoId });
  }

  /**
   * One batch of likes and unlikes: one transaction (likes in one insert, unlikes in one locking
   * read and one delete, the outbox in one insert), then one round of publishes. Each write still
   * gets its own 404 / 409 and its own events, exactly as if it had run alone; a failure of the
   * transaction itself (after the database's deadlock retries) fails every write of the batch,
   * none of which is then written.
   */
  private async writeBatch(ops: LikeOp[], committed: () => void): Promise<Outcome<void>[]> {
    // Before any write of the batch answers: the liked sets of its accounts (is_liked) are stale.
    // Dropped as soon as the transaction commits, alongside its after-commit effects rather than
    // after them (one round trip less per like); after a failure too (its outcome may be unknown).
    let dropped: Promise<void> | undefined;
    const drop = (): Promise<void> => (dropped ??= this.likedSets.invalidate(ops.map((op) => op.accountId)));
    try {
      return await this.writeBatchTx(ops, () => {
        void drop();
        committed();
      });
    } finally {
      await drop();
    }
  }

  private writeBatchTx(ops: LikeOp[], committed: () => void): Promise<Outcome<void>[]> {
    return this.bus.transaction(async (manager, emit) => {
      const out: Outcome<void>[] = ops.map(() => succeeded(undefined));
      const ts = nowMs();
      const likes = ops.flatMap((op, i) => (op.kind === 'like' ? [i] : []));
      const unlikes = ops.flatMap((op, i) => (op.kind === 'unlike' ? [i] : []));
      if (likes.length > 0) {
        const results = await this.likes.insertManyIfVideosExist(
          manager,
          likes.map((i) => ({ accountId: ops[i].accountId, videoId: ops[i].videoId, createTime: ts })),
          this.bus.derivesInTransaction ? 'update' : 'share',
        );
        results.forEach((r, j) => {
          if (r === 'no-video') out[likes[j]] = failed(VideoErrors.notFound());
          else if (r === 'duplicate') out[likes[j]] = failed(LikeErrors.alreadyLiked());
        });
      }
      if (unlikes.length > 0) {
        const results = await this.likes.deleteMany(
          manager,
          unlikes.map((i) => ops[i]),
        );
        results.forEach((r, j) => {
          if (r === 'no-video') out[unlikes[j]] = failed(VideoErrors.notFound());
          else if (r === 'not-liked') out[unlikes[j]] = failed(LikeErrors.notLiked());
        });
      }
      ops.forEach((op, i) => {
        if (!out[i].ok) return;
        const payload = { account_id: op.accountId, video_id: op.videoId };
        const like = op.kind === 'like';
        emit(makeEvent(like ? 'like.like' : 'like.unlike', payload, ts));
        emit(
          makeEvent(
            'video.popularity.update',
            { video_id: op.videoId, delta: like ? 1 : -1, reason: like ? 'like' : 'unlike' },
            ts,
          ),
        );
      });
      return out;
    }, committed);
  }

  /**
   * Never cached: reflects the caller's own writes at once (a replica only serves a caller that
   * has not written lately, `Database.reader`).
   */
  isLiked(accountId: number, videoId: number): Promise<boolean> {
    return this.db.reader.run(async () => {
      if (!(await this.videos.exists(videoId))) throw VideoErrors.notFound();
      return this.likes.isLiked(accountId, videoId);
    });
  }

  /** Most recently liked first; each item carries `like_id` (the cursor). */
  listMyLikedVideos(
    accountId: number,
    idBefore: number | undefined,
    limit: number,
  ): Promise<LikedVideoView[]> {
    return this.db.reader.run(() => this.likedVideos(accountId, idBefore, limit));
  }

  private async likedVideos(
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
