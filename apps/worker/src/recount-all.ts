import type { Database } from '@app/core';
import { recountComments } from '@app/comment';
import { recountLikes } from '@app/like';
import { recountFollowers, recountVloggers } from '@app/social';
import { recountPopularity } from '@app/video';

/** Rows fixed per counter. All zero means every counter already matched its source rows. */
export interface RecountReport {
  likes_count: number;
  comments_count: number;
  popularity: number;
  follower_count: number;
  vlogger_count: number;
}

/**
 * Rebuilds every derived counter from the source rows with set-based UPDATEs (MySQL 8,
 * MariaDB, SQLite). Popularity runs after likes and comments, from the corrected values.
 * Meant for a quiet system: derived updates applied meanwhile may be counted twice.
 */
export async function recountAll(db: Database): Promise<RecountReport> {
  const likes = await db.transaction((m) => recountLikes(m));
  const comments = await db.transaction((m) => recountComments(m));
  const popularity = await db.transaction((m) => recountPopularity(m));
  const followers = await db.transaction((m) => recountFollowers(m));
  const vloggers = await db.transaction((m) => recountVloggers(m));
  return {
    likes_count: likes,
    comments_count: comments,
    popularity,
    follower_count: followers,
    vlogger_count: vloggers,
  };
}

export function formatRecountReport(r: RecountReport): string {
  return Object.entries(r)
    .map(([counter, n]) => `recount ${counter}: ${n} rows fixed`)
    .join('\n');
}
