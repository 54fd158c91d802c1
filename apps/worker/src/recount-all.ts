import type { CacheStore } from '@app/cache';
import type { Database } from '@app/core';
import { recountComments } from '@app/comment';
import { recountLikes } from '@app/like';
import { recountFollowers, recountVloggers } from '@app/social';
import { dropLikesCountIndex, markDetailsChanged, recountPopularity, VideoListGeneration } from '@app/video';

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
 * Meant for a quiet system: derived updates applied meanwhile may be counted twice. With
 * `fixedVideos`, the ids of the videos whose counters it fixed are added to it.
 */
export async function recountAll(db: Database, fixedVideos?: Set<number>): Promise<RecountReport> {
  const likes = await db.transaction((m) => recountLikes(m, fixedVideos));
  const comments = await db.transaction((m) => recountComments(m, fixedVideos));
  const popularity = await db.transaction((m) => recountPopularity(m, fixedVideos));
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

/** Detail keys marked per round. */
const FORGET_CHUNK = 500;

/**
 * After a recount fixed these videos' counters behind the running processes' backs: their
 * `getDetail` entries are marked changed (`markDetailsChanged`), the likes-count index is dropped
 * (the next likes-count page rebuilds it) and the video list generation changes, so no cached
 * copy keeps an old count past this call. False when Redis refused any of it (the caches then heal within their TTLs).
 */
export async function forgetRecountedVideos(
  store: CacheStore,
  db: Database,
  ids: Iterable<number>,
): Promise<boolean> {
  const all = [...ids];
  if (all.length === 0) return true;
  let ok = true;
  for (let i = 0; i < all.length; i += FORGET_CHUNK)
    ok = (await markDetailsChanged(store, db, all.slice(i, i + FORGET_CHUNK))).length === 0 && ok;
  ok = (await dropLikesCountIndex(store)) && ok;
  await new VideoListGeneration(store).bump();
  return ok;
}
