import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, LessThan, Repository } from 'typeorm';
import { Database } from '@app/core';
import { lockClause } from '@app/video';
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
   * Inside a transaction: inserts the like only if its video exists, reading the video row under a
   * shared lock (MySQL) held to commit. So a concurrent video delete (which takes the row
   * `FOR UPDATE` before removing the video's likes) either waits for this like and then removes
   * it, or goes first and this inserts nothing; likes of one video don't block each other (the old
   * `FOR UPDATE` serialised them). Returns 0 when the video does not exist (404); the unique key
   * `(video_id, account_id)` turns a duplicate into a duplicate-key error (409).
   *
   * Two statements on purpose: one `INSERT … SELECT` would be a "bulk insert" to InnoDB, which
   * (with `innodb_autoinc_lock_mode = 1`) holds the table's AUTO-INC lock for the whole statement,
   * including its wait for the row lock: every like insert would queue behind it, and measured
   * under load it fails with "Failed to read auto-increment value from storage engine".
   */
  async insertIfVideoExists(manager: EntityManager, row: Omit<LikeEntity, 'id'>): Promise<number> {
    const video = await manager.query<unknown[]>(
      `SELECT 1 AS one FROM videos WHERE id = ?${lockClause(this.db.dialect, 'share')}`,
      [row.videoId],
    );
    if (video.length === 0) return 0;
    return affected(manager, 'INSERT INTO likes (video_id, account_id, create_time) VALUES (?, ?, ?)', [
      row.videoId,
      row.accountId,
      row.createTime,
    ]);
  }

  /** Inside a transaction: rows deleted (0 or 1), one round trip. */
  delete(manager: EntityManager, accountId: number, videoId: number): Promise<number> {
    return affected(manager, 'DELETE FROM likes WHERE account_id = ? AND video_id = ?', [accountId, videoId]);
  }

  async deleteByVideo(manager: EntityManager, videoId: number): Promise<void> {
    await manager.delete(LikeEntity, { videoId });
  }
}

/** A raw write on the transaction's own connection; the rows it changed (both drivers). */
async function affected(manager: EntityManager, sql: string, params: unknown[]): Promise<number> {
  const runner = manager.queryRunner;
  if (!runner) throw new Error('likes are written inside a transaction');
  const result = (await runner.query(sql, params, true)) as { affected?: number };
  return result.affected ?? 0;
}
