import { toIso } from '@app/core';
import type { VideoEntity } from './video.entity';
import { decodeTags } from './video-tags';

/** `Video` of SPEC §3.2. */
export interface VideoView {
  id: number;
  author_id: number;
  username: string;
  title: string;
  description: string;
  play_url: string;
  cover_url: string;
  create_time: string;
  likes_count: number;
  comments_count: number;
  popularity: number;
  tags: string[];
}

export function toVideoView(v: VideoEntity): VideoView {
  return {
    id: v.id,
    author_id: v.authorId,
    username: v.username,
    title: v.title,
    description: v.description,
    play_url: v.playUrl,
    cover_url: v.coverUrl,
    create_time: toIso(v.createTime),
    likes_count: v.likesCount,
    comments_count: v.commentsCount,
    popularity: v.popularity,
    tags: decodeTags(v.tags),
  };
}
