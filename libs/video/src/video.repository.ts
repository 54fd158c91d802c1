import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, In, Repository } from 'typeorm';
import { CounterBatch, Database, placeholders, TransactionFacts } from '@app/core';
import type { ApplyContext } from '@app/events';
import { VideoEntity } from './video.entity';
import { rowToVideoView, VIDEO_VIEW_COLUMNS, type VideoView, type VideoViewRow } from './video.view';

/** The derived counters of a video. */
export type VideoCounter = 'likes_count' | 'comments_count' | 'popularity';
const VIDEO_COUNTERS: readonly VideoCounter[] = ['likes_count', 'comments_count', 'popularity'];

/**
 * The author of each video a transaction has read with its row locked (a video's author never
 * changes): noted by {@link VideoRepository.lockById} and the like's existence check, read by the
 * notifications a like or a comment creates in the same transaction, which then need not select
 * the video again.
 */
export const lockedVideoAuthors = new TransactionFacts<number>();

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

  /**
   * Newest first, keyset on `id`, as `getDetail` shows them: a backward range of
   * ix_videos_author_id (author_id, id). A raw query (a TypeORM `find` builds its SQL on every
   * call); may read a replica (`Database.reader`).
   */
  async listByAuthor(authorId: number, idBefore: number | undefined, limit: number): Promise<VideoView[]> {
    const rows = await this.db.reader.query<VideoViewRow>(
      `SELECT ${VIDEO_VIEW_COLUMNS} FROM videos v WHERE v.author_id = ?${idBefore ? ' AND v.id < ?' : ''} ORDER BY v.id DESC LIMIT ?`,
      idBefore ? [authorId, idBefore, limit] : [authorId, limit],
    );
    return rows.map(rowToVideoView);
  }

  /** The videos of `ids` as `getDetail` shows them, any order: from the primary, or as reads go. */
  async viewsByIds(ids: number[], primary = false): Promise<VideoView[]> {
    if (ids.length === 0) return [];
    const rows = await (primary ? this.db : this.db.reader).query<VideoViewRow>(
      `SELECT ${VIDEO_VIEW_COLUMNS} FROM videos v WHERE v.id IN (${placeholders(ids.length)})`,
      ids,
    );
    return rows.map(rowToVideoView);
  }

  /** Inside a transaction: the row, `FOR UPDATE` (MySQL) against a concurrent delete or like. */
  async lockById(manager: EntityManager, id: number): Promise<VideoEntity | null> {
    const video = await manager.findOne(VideoEntity, {
      where: { id },
      ...(this.db.dialect === 'sqlite' ? {} : { lock: { mode: 'pessimistic_write' as const } }),
    });
    if (video) lockedVideoAuthors.note(manager, video.id, video.authorId);
    return video;
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

  /**
   * The author's newest `take` (id, create_time) by (create_time, id), from the primary (the author
   * time index's build). A backward range of the covering ix_videos_author_time: no row is read.
   */
  async latestByAuthorTime(authorId: number, take: number): Promise<{ id: number; time: number }[]> {
    const rows = await this.db.query<{ id: number | string; create_time: number | string }>(
      'SELECT id, create_time FROM videos WHERE author_id = ? ORDER BY create_time DESC, id DESC LIMIT ?',
      [authorId, take],
    );
    return rows.map((r) => ({ id: Number(r.id), time: Number(r.create_time) }));
  }

  async idsByAuthor(authorId: number): Promise<number[]> {
    return (await this.repo.find({ where: { authorId }, select: { id: true } })).map((v) => v.id);
  }
}
