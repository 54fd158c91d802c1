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

/** The `videos` columns a {@link VideoView} shows, for raw queries (alias `v`). */
export const VIDEO_VIEW_COLUMNS =
  'v.id, v.author_id, v.username, v.title, v.description, v.play_url, v.cover_url, v.create_time, v.likes_count, v.comments_count, v.popularity, v.tags';

/** A raw row of {@link VIDEO_VIEW_COLUMNS} (drivers return BIGINT and some ints as strings). */
export interface VideoViewRow {
  id: number | string;
  author_id: number | string;
  username: string;
  title: string;
  description: string;
  play_url: string;
  cover_url: string;
  create_time: number | string;
  likes_count: number | string;
  comments_count: number | string;
  popularity: number | string;
  tags: string | null;
}

export function rowToVideoView(r: VideoViewRow): VideoView {
  return {
    id: Number(r.id),
    author_id: Number(r.author_id),
    username: r.username,
    title: r.title,
    description: r.description,
    play_url: r.play_url,
    cover_url: r.cover_url,
    create_time: toIso(Number(r.create_time)),
    likes_count: Number(r.likes_count),
    comments_count: Number(r.comments_count),
    popularity: Number(r.popularity),
    tags: decodeTags(r.tags),
  };
}
