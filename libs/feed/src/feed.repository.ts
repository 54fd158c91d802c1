import { Injectable } from '@nestjs/common';
import { Database, placeholders } from '@app/core';
import type { PageRow, VideoRow } from './feed.types';

const COLS =
  'v.id, v.author_id, v.username, v.title, v.description, v.play_url, v.cover_url, v.create_time, v.likes_count, v.comments_count, v.tags';

/** Follow counts up to this use the per-author index; above it, the time index (see listFollowing). */
const FOLLOWING_TIME_SCAN_MIN = 50;
/** The time-index scan looks this far back before the per-author plan takes over (bounds its cost). */
const FOLLOWING_TIME_WINDOW_MS = 7 * 86_400_000;

/**
 * The feed queries. Keyset conditions are written in OR form (`a < ? OR (a = ? AND id < ?)`):
 * MariaDB does not range-scan row constructors. Every query reads `limit + 1` rows so the service
 * knows `has_more` exactly. Checked with EXPLAIN on MariaDB 10.11 over 200k videos (bench/README.md).
 */
@Injectable()
export class FeedRepository {
  constructor(private readonly db: Database) {}

  /** Newest first by (create_time, id): index ix_videos_create_time, backward range scan. */
  latest(take: number, latestTime: number, idBefore: number): Promise<VideoRow[]> {
    const [where, params] = timeKeyset('v', latestTime, idBefore);
    return this.db.reader.query<VideoRow>(
      `SELECT ${COLS} FROM videos v ${where ? 'WHERE ' + where : ''} ORDER BY v.create_time DESC, v.id DESC LIMIT ?`,
      [...params, take],
    );
  }

  /**
   * A tag's videos, newest first by (create_time, id): the tag by its unique name (a constant
   * lookup), then a backward range of ix_video_tags_tag_time (tag_id, create_time, video_id), each
   * video by primary key. `video_tags` carries the video's create_time, so the order and the
   * keyset need no filesort and read only `take` entries.
   */
  byTag(tag: string, take: number, latestTime: number, idBefore: number): Promise<VideoRow[]> {
    const [where, params] = timeKeyset('vt', latestTime, idBefore, 'video_id');
    return this.db.reader.query<VideoRow>(
      `SELECT ${COLS} FROM tags t JOIN video_tags vt ON vt.tag_id = t.id JOIN videos v ON v.id = vt.video_id WHERE t.name = ?${where ? ' AND ' + where : ''} ORDER BY vt.create_time DESC, vt.video_id DESC LIMIT ?`,
      [tag, ...params, take],
    );
  }

  /** Whether this request's reads go to a replica (then a page it builds may trail the primary). */
  readsReplica(): boolean | Promise<boolean> {
    return this.db.reads.enabled && this.db.reads.mayUseReplica();
  }

  /** (likes_count desc, id desc): index ix_videos_likes_count. */
  likesCount(take: number, cursor?: { likes: number; id: number }): Promise<VideoRow[]> {
    const where = cursor ? 'WHERE v.likes_count < ? OR (v.likes_count = ? AND v.id < ?)' : '';
    const params = cursor ? [cursor.likes, cursor.likes, cursor.id] : [];
    return this.db.reader.query<VideoRow>(
      `SELECT ${COLS} FROM videos v ${where} ORDER BY v.likes_count DESC, v.id DESC LIMIT ?`,
      [...params, take],
    );
  }

  /** Hot-list fallback (popularity desc, id desc): index ix_videos_popularity, offset paging. */
  popularity(take: number, offset: number): Promise<VideoRow[]> {
    return this.db.reader.query<VideoRow>(
      `SELECT ${COLS} FROM videos v ORDER BY v.popularity DESC, v.id DESC LIMIT ? OFFSET ?`,
      [take, offset],
    );
  }

  byIds(ids: number[], primary = false): Promise<VideoRow[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return (primary ? this.db : this.db.reader).query<VideoRow>(
      `SELECT ${COLS} FROM videos v WHERE v.id IN (${placeholders(ids.length)})`,
      ids,
    );
  }

  /**
   * The newest `take` (id, create_time) pairs, or the next `take` older than `before` (the keyset
   * predicate in OR form, which MariaDB range-scans), from the primary (the latest index's build, in
   * parts: pushes cover only what commits after this read). A backward scan of
   * ix_videos_create_time, which holds the id: no row is read.
   */
  async latestIds(
    take: number,
    before?: { id: number; time: number },
  ): Promise<{ id: number; time: number }[]> {
    const rows = await this.db.query<{ id: number | string; create_time: number | string }>(
      before === undefined
        ? 'SELECT v.id, v.create_time FROM videos v ORDER BY v.create_time DESC, v.id DESC LIMIT ?'
        : 'SELECT v.id, v.create_time FROM videos v WHERE v.create_time < ? OR (v.create_time = ? AND v.id < ?) ORDER BY v.create_time DESC, v.id DESC LIMIT ?',
      before === undefined ? [take] : [before.time, before.time, before.id, take],
    );
    return rows.map((r) => ({ id: Number(r.id), time: Number(r.create_time) }));
  }

  /**
   * A tag's newest `take` (video id, create_time) pairs, from the primary (the tag index's build).
   * The tag by its unique name, then a backward range of ix_video_tags_tag_time, which holds both:
   * no video row is read.
   */
  async tagIds(tag: string, take: number): Promise<{ id: number; time: number }[]> {
    const rows = await this.db.query<{ video_id: number | string; create_time: number | string }>(
      'SELECT vt.video_id, vt.create_time FROM tags t JOIN video_tags vt ON vt.tag_id = t.id WHERE t.name = ? ORDER BY vt.create_time DESC, vt.video_id DESC LIMIT ?',
      [tag, take],
    );
    return rows.map((r) => ({ id: Number(r.video_id), time: Number(r.create_time) }));
  }

  /** Rows for `ids`, in the order given (ids whose row vanished meanwhile are dropped). */
  async inOrder(ids: number[], primary = false): Promise<VideoRow[]> {
    const rows = new Map((await this.byIds(ids, primary)).map((r) => [Number(r.id), r]));
    return ids.flatMap((id) => rows.get(id) ?? []);
  }

  /** Every account `accountId` follows (the primary: a timeline's follow set). */
  async followedAuthors(accountId: number): Promise<number[]> {
    const rows = await this.db.query<{ vlogger_id: number | string }>(
      'SELECT vlogger_id FROM socials WHERE follower_id = ?',
      [accountId],
    );
    return rows.map((r) => Number(r.vlogger_id));
  }

  /** Up to `max` followers of `authorId` (the primary: a fan-out must see every committed follow). */
  async followerIds(authorId: number, max: number): Promise<number[]> {
    const rows = await this.db.query<{ follower_id: number | string }>(
      'SELECT follower_id FROM socials WHERE vlogger_id = ? LIMIT ?',
      [authorId, max],
    );
    return rows.map((r) => Number(r.follower_id));
  }

  async followCount(accountId: number): Promise<number> {
    const rows = await this.db.reader.query<{ n: number | string }>(
      'SELECT COUNT(*) AS n FROM socials WHERE follower_id = ?',
      [accountId],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Videos of the accounts `accountId` follows, newest first. Two plans, chosen by follow count:
   * - few follows (< 50): one bounded range per author on `ix_videos_author_time` (≤ take entries
   *   each, UNION ALL), merged by the outer sort (cost ~ follows × take index entries);
   * - many follows: walk `ix_videos_create_time` backwards and semi-join `socials` by its unique key
   *   (cost ~ limit / share of videos by followed authors), bounded to a time window; if the window
   *   holds fewer than `take` rows, the per-author plan fills the rest from before the window.
   */
  async following(
    accountId: number,
    take: number,
    latestTime: number,
    idBefore: number,
    primary = false,
    rowsOf: RowsOf = (ids, p) => this.inOrder(ids, p),
  ): Promise<PageRow[]> {
    return this.pull<PageRow>(accountId, take, latestTime, idBefore, primary, COLS, (keys) =>
      rowsOf(
        keys.map((k) => Number(k.id)),
        primary,
      ),
    );
  }

  /**
   * {@link following}'s keys only (id, `create_time` ms), newest first, from the primary by the same
   * plans, index only: a deep part of a following timeline ({@link TimelineParts}).
   */
  async followingKeys(
    accountId: number,
    take: number,
    latestTime: number,
    idBefore: number,
  ): Promise<{ id: number; time: number }[]> {
    const rows = await this.pull<TimeKeyRow>(
      accountId,
      take,
      latestTime,
      idBefore,
      true,
      'v.id, v.create_time',
      async (keys) => keys,
    );
    return rows.map((r) => ({ id: Number(r.id), time: Number(r.create_time) }));
  }

  /**
   * {@link following}'s plans; `cols` the window scan's columns (rows of type R), `fromKeys` what the
   * per-author plan's keys become.
   */
  private async pull<R>(
    accountId: number,
    take: number,
    latestTime: number,
    idBefore: number,
    primary: boolean,
    cols: string,
    fromKeys: (keys: TimeKeyRow[]) => Promise<R[]>,
  ): Promise<R[]> {
    const db = primary ? this.db : this.db.reader;
    const few = await db.query<{ vlogger_id: number | string }>(
      'SELECT vlogger_id FROM socials WHERE follower_id = ? LIMIT ?',
      [accountId, FOLLOWING_TIME_SCAN_MIN],
    );
    if (few.length === 0) return [];
    if (few.length < FOLLOWING_TIME_SCAN_MIN) {
      return fromKeys(
        await this.byAuthorsKeys(
          few.map((r) => Number(r.vlogger_id)),
          take,
          latestTime,
          idBefore,
          primary,
        ),
      );
    }
    const inFollowed = 'v.author_id IN (SELECT s.vlogger_id FROM socials s WHERE s.follower_id = ?)';
    const upper = latestTime > 0 ? latestTime : Date.now() + 60_000;
    const lower = upper - FOLLOWING_TIME_WINDOW_MS;
    const [kw, kp] = timeKeyset('v', latestTime, idBefore);
    const hint =
      this.db.dialect === 'mysql'
        ? 'FORCE INDEX (ix_videos_create_time)'
        : 'INDEXED BY ix_videos_create_time';
    const recent = await db.query<R>(
      `SELECT ${cols} FROM videos v ${hint} WHERE v.create_time >= ?${kw ? ' AND (' + kw + ')' : ''} AND ${inFollowed} ORDER BY v.create_time DESC, v.id DESC LIMIT ?`,
      [lower, ...kp, accountId, take],
    );
    if (recent.length >= take) return recent;
    // Everything strictly before the window (`create_time < lower`) comes next, in order: keys from
    // the covering (author_id, create_time, id) index, sorted.
    const authorHint =
      this.db.dialect === 'mysql'
        ? 'FORCE INDEX (ix_videos_author_time)'
        : 'INDEXED BY ix_videos_author_time';
    const older = await db.query<TimeKeyRow>(
      `SELECT v.id, v.create_time FROM videos v ${authorHint} WHERE ${inFollowed} AND v.create_time < ? ORDER BY v.create_time DESC, v.id DESC LIMIT ?`,
      [accountId, lower, take - recent.length],
    );
    return [...recent, ...(await fromKeys(older))];
  }

  /**
   * Per-author merge for a few authors (few followed ones; a timeline's big authors): each author's
   * newest `take` ids past the cursor from `ix_videos_author_time` (at most `take` index entries
   * each), merged by the outer sort.
   */
  async byAuthors(
    authors: number[],
    take: number,
    latestTime: number,
    idBefore: number,
    primary = false,
    rowsOf: RowsOf = (ids, p) => this.inOrder(ids, p),
  ): Promise<PageRow[]> {
    const keys = await this.byAuthorsKeys(authors, take, latestTime, idBefore, primary);
    return rowsOf(
      keys.map((k) => Number(k.id)),
      primary,
    );
  }

  private byAuthorsKeys(
    authors: number[],
    take: number,
    latestTime: number,
    idBefore: number,
    primary: boolean,
  ): Promise<TimeKeyRow[]> {
    const [kw, kp] = timeKeyset('v', latestTime, idBefore);
    const parts = authors.map(
      (_, i) =>
        `SELECT * FROM (SELECT v.id, v.create_time FROM videos v WHERE v.author_id = ?${kw ? ' AND ' + kw : ''} ORDER BY v.create_time DESC, v.id DESC LIMIT ?) a${i}`,
    );
    return (primary ? this.db : this.db.reader).query<TimeKeyRow>(
      `SELECT m.id, m.create_time FROM (${parts.join(' UNION ALL ')}) m ORDER BY m.create_time DESC, m.id DESC LIMIT ?`,
      [...authors.flatMap((a) => [a, ...kp, take]), take],
    );
  }

  /** Ids among `videoIds` that `accountId` likes: one query per page (SPEC §3.6). */
  async likedAmong(accountId: number, videoIds: readonly number[]): Promise<Set<number>> {
    if (videoIds.length === 0) return new Set();
    const rows = await this.db.reader.query<{ video_id: number | string }>(
      `SELECT video_id FROM likes WHERE account_id = ? AND video_id IN (${placeholders(videoIds.length)})`,
      [accountId, ...videoIds],
    );
    return new Set(rows.map((r) => Number(r.video_id)));
  }
}

/**
 * The rows of ids a query found, in their order: by primary key ({@link FeedRepository.inOrder}),
 * or, from the feed service, from the videos' cached `getDetail` entries.
 */
export type RowsOf = (ids: number[], primary: boolean) => Promise<PageRow[]>;

/** A video's id and `create_time` as a query returns them. */
interface TimeKeyRow {
  id: number | string;
  create_time: number | string;
}

/**
 * `latestTime` 0 = no bound (first page). With `idBefore` the cursor is the exact pair
 * `(create_time, id) < (latestTime, idBefore)`; alone it means `create_time < latestTime`.
 */
function timeKeyset(
  alias: string,
  latestTime: number,
  idBefore: number,
  idColumn = 'id',
): [string, number[]] {
  if (latestTime <= 0) return ['', []];
  if (idBefore > 0) {
    return [
      `(${alias}.create_time < ? OR (${alias}.create_time = ? AND ${alias}.${idColumn} < ?))`,
      [latestTime, latestTime, idBefore],
    ];
  }
  return [`${alias}.create_time < ?`, [latestTime]];
}
