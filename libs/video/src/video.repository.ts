import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, In, LessThan, Repository } from 'typeorm';
import { Database } from '@app/core';
import { VideoEntity } from './video.entity';

export interface CounterDelta {
  likes?: number;
  comments?: number;
  popularity?: number;
}

const COUNTER_COLUMN: Record<keyof CounterDelta, string> = {
  likes: 'likes_count',
  comments: 'comments_count',
  popularity: 'popularity',
};

/** The `videos` aggregate. Reads use the repository; writes take the caller's manager. */
@Injectable()
export class VideoRepository {
  constructor(
    @InjectRepository(VideoEntity) private readonly repo: Repository<VideoEntity>,
    private readonly db: Database,
  ) {}

  findById(id: number): Promise<VideoEntity | null> {
    return this.repo.findOne({ where: { id } });
  }

  async exists(id: number): Promise<boolean> {
    return (await this.repo.count({ where: { id } })) > 0;
  }

  /** By ids, in the order given; missing ids are skipped. */
  async findByIds(ids: number[]): Promise<VideoEntity[]> {
    if (ids.length === 0) return [];
    const rows = await this.repo.find({ where: { id: In(ids) } });
    const byId = new Map(rows.map((v) => [v.id, v]));
    return ids.map((id) => byId.get(id)).filter((v): v is VideoEntity => v !== undefined);
  }

  /** Newest first, keyset on `id`. */
  listByAuthor(authorId: number, idBefore: number | undefined, limit: number): Promise<VideoEntity[]> {
    return this.repo.find({
      where: idBefore ? { authorId, id: LessThan(idBefore) } : { authorId },
      order: { id: 'DESC' },
      take: limit,
    });
  }

  /** Inside a transaction, on its connection: whether the video exists (a plain read, no lock). */
  async existsIn(manager: EntityManager, id: number): Promise<boolean> {
    const rows = await manager.query<unknown[]>('SELECT 1 AS one FROM videos WHERE id = ?', [id]);
    return rows.length > 0;
  }

  /** Inside a transaction: the row, `FOR UPDATE` (MySQL) against a concurrent delete or like. */
  lockById(manager: EntityManager, id: number): Promise<VideoEntity | null> {
    return manager.findOne(VideoEntity, {
      where: { id },
      ...(this.db.dialect === 'sqlite' ? {} : { lock: { mode: 'pessimistic_write' as const } }),
    });
  }

  async insert(manager: EntityManager, row: Omit<VideoEntity, 'id'>): Promise<VideoEntity> {
    const result = await manager.insert(VideoEntity, row);
    const id = Number((result.identifiers[0] as { id: number }).id);
    return { ...row, id };
  }

  async delete(manager: EntityManager, id: number): Promise<void> {
    await manager.delete(VideoEntity, { id });
  }

  /** `SET x = x + ?` in one statement; a video that is gone updates nothing (fine). */
  async adjustCounters(manager: EntityManager, videoId: number, delta: CounterDelta): Promise<void> {
    const sets: string[] = [];
    const params: number[] = [];
    for (const [k, column] of Object.entries(COUNTER_COLUMN) as [keyof CounterDelta, string][]) {
      const d = delta[k];
      if (d === undefined || d === 0) continue;
      if (!Number.isInteger(d)) throw new Error(`counter delta must be an integer, got ${d}`);
      sets.push(`${column} = ${column} + ?`);
      params.push(d);
    }
    if (sets.length === 0) return;
    await manager.query(`UPDATE videos SET ${sets.join(', ')} WHERE id = ?`, [...params, videoId]);
  }

  /** Rename: the denormalised author name. */
  async renameAuthor(manager: EntityManager, authorId: number, username: string): Promise<void> {
    await manager.update(VideoEntity, { authorId }, { username });
  }

  async idsByAuthor(authorId: number): Promise<number[]> {
    return (await this.repo.find({ where: { authorId }, select: { id: true } })).map((v) => v.id);
  }
}
