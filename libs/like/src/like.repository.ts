import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, LessThan, Repository } from 'typeorm';
import { affectedRows, Database, isDuplicateKey, lockClause } from '@app/core';
import { lockedVideoAuthors } from '@app/video';
import { LikeEntity } from './like.entity';

/** The `likes` source rows. */
@Injectable()
export class LikeRepository {
  constructor(
    @InjectRepository(LikeEntity) private readonly repo: Repository<LikeEntity>,
    private readonly db: Database,
  ) {}

  async isLiked(accountId: number, videoId: number): Promise<boolean> {
    return (await this.repo.count({ where: { accountId, videoId } })) > 0;
  }

  /** The caller's likes, newest first, keyset on the like id. */
  listByAccount(accountId: number, idBefore: number | undefined, limit: number): Promise<LikeEntity[]> {
    return this.repo.find({
      where: idBefore ? { accountId, id: LessThan(idBefore) } : { accountId },
      order: { id: 'DESC' },
      take: limit,
    });
  }

  /**
   * Inside a transaction, a batch of likes: the videos read under a shared lock (MySQL) held to
   * commit, in one statement (`videoLock = 'update'` when this transaction will also update the
   * videos' counters: two batches upgrading shared locks would deadlock), then every like whose video exists in one multi-row insert. So a
   * concurrent video delete (which takes the row `FOR UPDATE` before removing the video's likes)
   * either waits for these likes and then removes them, or goes first and its likes get 404;
   * likes of one video don't block each other. Returns per row: 'ok', 'no-video' (404) or
   * 'duplicate' (409: the unique key `(video_id, account_id)`). A duplicate fails the multi-row
   * statement alone (statement-level rollback, in both dialects), and only then are the rows
   * inserted one by one to find which. Rows go in (video, account) order, as in any other batch.
   *
   * Not one `INSERT … SELECT`: that is a "bulk insert" to InnoDB, which (with
   * `innodb_autoinc_lock_mode = 1`) holds the table's AUTO-INC lock for the whole statement,
   * including its wait for the row lock, so every like insert would queue behind it (measured
   * under load: "Failed to read auto-increment value from storage engine"). A multi-row
   * `INSERT … VALUES` is a "simple insert" and takes no such lock.
   */
  async insertManyIfVideosExist(
    manager: EntityManager,
    rows: Omit<LikeEntity, 'id'>[],
    videoLock: 'share' | 'update',
  ): Promise<('ok' | 'no-video' | 'duplicate')[]> {
    const out: ('ok' | 'no-video' | 'duplicate')[] = rows.map(() => 'ok');
    const existing = await this.existingVideos(
      manager,
      rows.map((r) => r.videoId),
      videoLock,
    );
    const order = rows
      .map((r, i) => i)
      .filter((i) => {
        if (existing.has(rows[i].videoId)) return true;
        out[i] = 'no-video';
        return false;
      })
      .sort((a, b) => rows[a].videoId - rows[b].videoId || rows[a].accountId - rows[b].accountId);
    if (order.length === 0) return out;
    const params: unknown[] = [];
    for (const i of order) params.push(rows[i].videoId, rows[i].accountId, rows[i].createTime);
    const values = order.map(() => '(?, ?, ?)').join(', ');
    try {
      await affectedRows(
        manager,
        `INSERT INTO likes (video_id, account_id, create_time) VALUES ${values}`,
        params,
      );
      return out;
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
    for (const i of order) {
      try {
        await affectedRows(
          manager,
          'INSERT INTO likes (video_id, account_id, create_time) VALUES (?, ?, ?)',
          [rows[i].videoId, rows[i].accountId, rows[i].createTime],
        );
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        out[i] = 'duplicate';
      }
    }
    return out;
  }

  /**
   * Inside a transaction, a batch of unlikes: the like rows locked and read in one statement,
   * deleted by id in a second. Returns per pair: 'ok', 'not-liked' (409) or 'no-video' (404; one
   * more statement, only when some pair was not liked). The same pair twice in a batch: the first
   * deletes it, the second is 'not-liked', as if they had run one after the other.
   */
  async deleteMany(
    manager: EntityManager,
    pairs: { accountId: number; videoId: number }[],
  ): Promise<('ok' | 'not-liked' | 'no-video')[]> {
    const where = pairs.map(() => '(video_id = ? AND account_id = ?)').join(' OR ');
    const found = await manager.query<
      { id: number | string; video_id: number | string; account_id: number | string }[]
    >(
      `SELECT id, video_id, account_id FROM likes WHERE ${where}${lockClause(this.db.dialect, 'update')}`,
      pairs.flatMap((p) => [p.videoId, p.accountId]),
    );
    const idOf = new Map(found.map((r) => [`${Number(r.video_id)}:${Number(r.account_id)}`, Number(r.id)]));
    const out: ('ok' | 'not-liked' | 'no-video')[] = [];
    const ids: number[] = [];
    for (const p of pairs) {
      const key = `${p.videoId}:${p.accountId}`;
      const id = idOf.get(key);
      if (id === undefined) {
        out.push('not-liked');
        continue;
      }
      idOf.delete(key);
      ids.push(id);
      out.push('ok');
    }
    if (ids.length > 0) {
      const n = await affectedRows(
        manager,
        `DELETE FROM likes WHERE id IN (${ids.map(() => '?').join(', ')})`,
        ids,
      );
      // The rows are locked (MySQL) or the connection is ours alone (SQLite): nobody else deleted them.
      if (n !== ids.length) throw new Error(`deleted ${n} of ${ids.length} locked like rows`);
    }
    const missing = pairs.filter((_, i) => out[i] === 'not-liked').map((p) => p.videoId);
    if (missing.length > 0) {
      const existing = await this.existingVideos(manager, missing, 'none');
      pairs.forEach((p, i) => {
        if (out[i] === 'not-liked' && !existing.has(p.videoId)) out[i] = 'no-video';
      });
    }
    return out;
  }

  /**
   * The ids among `videoIds` that exist, optionally locked (MySQL) to commit, in id order; a
   * locked one's author is noted for the transaction ({@link lockedVideoAuthors}: the like's
   * notification reads it there).
   */
  private async existingVideos(
    manager: EntityManager,
    videoIds: number[],
    lock: 'share' | 'update' | 'none',
  ): Promise<Set<number>> {
    const ids = [...new Set(videoIds)].sort((a, b) => a - b);
    const rows = await manager.query<{ id: number | string; author_id: number | string }[]>(
      `SELECT id, author_id FROM videos WHERE id IN (${ids.map(() => '?').join(', ')})${lock === 'none' ? '' : lockClause(this.db.dialect, lock)}`,
      ids,
    );
    if (lock !== 'none')
      for (const r of rows) lockedVideoAuthors.note(manager, Number(r.id), Number(r.author_id));
    return new Set(rows.map((r) => Number(r.id)));
  }

  async deleteByVideo(manager: EntityManager, videoId: number): Promise<void> {
    await manager.delete(LikeEntity, { videoId });
  }
}
