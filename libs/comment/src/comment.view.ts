import { toIso } from '@app/core';
import type { CommentEntity } from './comment.entity';

/** `Comment` of SPEC §3.4. */
export interface CommentView {
  id: number;
  video_id: number;
  author_id: number;
  username: string;
  content: string;
  created_at: string;
}

export function toCommentView(c: CommentEntity): CommentView {
  return {
    id: c.id,
    video_id: c.videoId,
    author_id: c.authorId,
    username: c.username,
    content: c.content,
    created_at: toIso(c.createTime),
  };
}
