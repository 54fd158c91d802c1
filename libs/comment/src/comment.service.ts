import { Injectable } from '@nestjs/common';
import { Database, IdempotencyService, nowMs } from '@app/core';
import { EventBus, makeEvent } from '@app/events';
import { lockAuthorName, VideoErrors, VideoRepository } from '@app/video';
import { CommentErrors } from './comment.errors';
import { CommentRepository } from './comment.repository';
import { CommentView, toCommentView } from './comment.view';

export const COMMENT_PUBLISH_ROUTE = 'comment/publish';

@Injectable()
export class CommentService {
  constructor(
    private readonly db: Database,
    private readonly bus: EventBus,
    private readonly comments: CommentRepository,
    private readonly videos: VideoRepository,
    private readonly idempotency: IdempotencyService,
  ) {}

  /** Oldest first; 404 for an unknown video. May be read from a replica (`Database.reader`). */
  listAll(videoId: number, idAfter: number | undefined, limit: number): Promise<CommentView[]> {
    return this.db.reader.run(async () => {
      if (!(await this.videos.exists(videoId))) throw VideoErrors.notFound();
      return (await this.comments.listByVideo(videoId, idAfter, limit)).map(toCommentView);
    });
  }

  /** `content` already trimmed, 1–1000 characters. Visible to `listAll` when this returns. */
  async publish(
    authorId: number,
    videoId: number,
    content: string,
    idempotencyKey?: string,
  ): Promise<CommentView> {
    const scope = idempotencyKey
      ? { accountId: authorId, route: COMMENT_PUBLISH_ROUTE, key: idempotencyKey }
      : null;
    return this.idempotency.once<CommentView>(scope, (save) =>
      this.bus.transaction(async (manager, emit) => {
        if (!(await this.videos.lockById(manager, videoId))) throw VideoErrors.notFound();
        // Share-locked: a concurrent rename waits for us, then renames this comment too.
        const username = await lockAuthorName(manager, this.db.dialect, authorId);
        if (username === null) throw CommentErrors.authorNotFound();
        const ts = nowMs();
        const row = await this.comments.insert(manager, {
          videoId,
          authorId,
          username,
          content,
          createTime: ts,
        });
        const body = { account_id: authorId, video_id: videoId, comment_id: row.id };
        emit(makeEvent('comment.publish', body, ts));
        emit(makeEvent('video.popularity.update', { video_id: videoId, delta: 1, reason: 'comment' }, ts));
        const view = toCommentView(row);
        await save(manager, view);
        return view;
      }),
    );
  }

  /** 404 unknown comment, 403 not its author. */
  async delete(accountId: number, commentId: number): Promise<void> {
    await this.bus.transaction(async (manager, emit) => {
      const comment = await this.comments.findById(manager, commentId);
      if (!comment) throw CommentErrors.notFound();
      if (comment.authorId !== accountId) throw CommentErrors.notAuthor();
      // Same lock order as publish (video first) so a concurrent video delete can't interleave.
      await this.videos.lockById(manager, comment.videoId);
      if ((await this.comments.delete(manager, commentId)) === 0) throw CommentErrors.notFound();
      const ts = nowMs();
      const body = { account_id: accountId, video_id: comment.videoId, comment_id: commentId };
      emit(makeEvent('comment.delete', body, ts));
      emit(
        makeEvent(
          'video.popularity.update',
          { video_id: comment.videoId, delta: -1, reason: 'comment_delete' },
          ts,
        ),
      );
    });
  }
}
