import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Database, lockClause, placeholders } from '@app/core';

/** The `tags` and `video_tags` rows; writes run inside the caller's transaction. */
@Injectable()
export class VideoTagRepository {
  constructor(private readonly db: Database) {}

  /**
   * Links a new video to its tags, creating the tags not seen before. Known tags are read without
   * locks (a tag row is never changed or deleted); new ones are inserted in name order (so two
   * publishes never wait on each other in opposite orders) and read back with a locking read,
   * which also sees a row another transaction committed meanwhile.
   */
  async attach(manager: EntityManager, videoId: number, createTime: number, names: string[]): Promise<void> {
    if (names.length === 0) return;
    const ids = await this.idsOf(manager, names, '');
    const missing = names.filter((n) => !ids.has(n)).sort();
    if (missing.length > 0) {
      // INSERT IGNORE, not an upsert: a tag another transaction is creating is then only waited
      // for with a shared lock, never an exclusive one, so two such waiters cannot deadlock.
      const verb = this.db.dialect === 'mysql' ? 'INSERT IGNORE' : 'INSERT OR IGNORE';
      await manager.query(`${verb} INTO tags (name) VALUES ${missing.map(() => '(?)').join(', ')}`, missing);
      for (const [n, id] of await this.idsOf(manager, missing, lockClause(this.db.dialect, 'share'))) {
        ids.set(n, id);
      }
    }
    const rows = names.map((n) => {
      const id = ids.get(n);
      if (id === undefined) throw new Error(`tag "${n}" was not created`);
      return [videoId, id, createTime];
    });
    await manager.query(
      `INSERT INTO video_tags (video_id, tag_id, create_time) VALUES ${rows.map(() => '(?, ?, ?)').join(', ')}`,
      rows.flat(),
    );
  }

  async deleteByVideo(manager: EntityManager, videoId: number): Promise<void> {
    await manager.query('DELETE FROM video_tags WHERE video_id = ?', [videoId]);
  }

  private async idsOf(manager: EntityManager, names: string[], lock: string): Promise<Map<string, number>> {
    const rows = await manager.query<{ id: number | string; name: string }[]>(
      `SELECT id, name FROM tags WHERE name IN (${placeholders(names.length)})${lock}`,
      names,
    );
    return new Map(rows.map((r) => [r.name, Number(r.id)]));
  }
}
