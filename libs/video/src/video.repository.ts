import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, In, LessThan, Repository } from 'typeorm';
import { Database } from '@app/core';
import type { ApplyContext, DeferredWrite } from '@app/events';
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

/** Counter deltas summed per video, flushed as one statement. */
export class VideoCounterBatch implements DeferredWrite {
  private readonly deltas = new Map<number, Required<CounterDelta>>();

  add(videoId: number, delta: CounterDelta): void {
    const sum = this.deltas.get(videoId) ?? { likes: 0, comments: 0, popularity: 0 };
    for (const k of Object.keys(COUNTER_COLUMN) as (keyof CounterDelta)[]) {
      const d = delta[k] ?? 0;
      if (!Number.isInteger(d)) throw new Error(`counter delta must be an integer, got ${d}`);
      sum[k] += d;
    }
    this.deltas.set(videoId, sum);
  }

  async flush(manager: EntityManager): Promise<void> {
    const ids = [...this.deltas.keys()]
      .filter((id) => Object.values(this.deltas.get(id)!).some((d) => d !== 0))
      .sort((a, b) => a - b);
    const sets: string[] = [];
    const params: number[] = [];
    for (const [k, column] of Object.entries(COUNTER_COLUMN) as [keyof CounterDelta, string][]) {
      const changed = ids.filter((id) => this.deltas.get(id)![k] !== 0);
      if (changed.length === 0) continue;
      sets.push(`${column} = ${column} + CASE id ${changed.map(() => 'WHEN ? THEN ?').join(' ')} ELSE 0 END`);
      for (const id of changed) params.push(id, this.deltas.get(id)![k]);
    }
    this.deltas.clear();
    if (sets.length === 0) return;
    await manager.query(
      `UPDATE videos SET ${sets.join(', ')} WHERE id IN (${ids.map(() => '?').join(', ')})`,
      [...params, ...ids],
    );
  }
}

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
  counters(context: ApplyContext): VideoCounterBatch {
    return context.defer('videos.counters', () => new VideoCounterBatch());
  }

  /** Rename: the denormalised author name. */
  async renameAuthor(manager: EntityManager, authorId: number, username: string): Promise<void> {
    await manager.update(VideoEntity, { authorId }, { username });
  }

  async idsByAuthor(authorId: number): Promise<number[]> {
    return (await this.repo.find({ where: { authorId }, select: { id: true } })).map((v) => v.id);
  }
}
