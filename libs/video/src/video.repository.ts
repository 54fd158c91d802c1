import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, In, LessThan, Repository } from 'typeorm';
import { CounterBatch, Database } from '@app/core';
import type { ApplyContext } from '@app/events';
import { VideoEntity } from './video.entity';

/** The derived counters of a video. */
export type VideoCounter = 'likes_count' | 'comments_count' | 'popularity';
const VIDEO_COUNTERS: readonly VideoCounter[] = ['likes_count', 'comments_count', 'popularity'];

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

  /**
   * The batch's counter changes, written once before commit (see {@link ApplyContext}): deltas
   * summed per video, one `UPDATE … CASE` for all of them, rows locked in id order.
   */
  counters(context: ApplyContext): CounterBatch<VideoCounter> {
    return context.defer('videos.counters', () => new CounterBatch('videos', VIDEO_COUNTERS));
  }

  /** Rename: the denormalised author name. */
  async renameAuthor(manager: EntityManager, authorId: number, username: string): Promise<void> {
    await manager.update(VideoEntity, { authorId }, { username });
  }

  /**
   * The author's newest `take` ids, from the primary (the author index's build: pushes cover only
   * what commits after this read). A backward range of ix_videos_author_id: no row is read.
   */
  async latestIdsByAuthor(authorId: number, take: number): Promise<number[]> {
    const rows = await this.db.query<{ id: number | string }>(
      'SELECT id FROM videos WHERE author_id = ? ORDER BY id DESC LIMIT ?',
      [authorId, take],
    );
    return rows.map((r) => Number(r.id));
  }

  async idsByAuthor(authorId: number): Promise<number[]> {
    return (await this.repo.find({ where: { authorId }, select: { id: true } })).map((v) => v.id);
  }
}
