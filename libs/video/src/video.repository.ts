import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import DataLoader from 'dataloader';
import { EntityManager, In, Repository } from 'typeorm';
import { CounterBatch, Database, outsideReplicaRead, placeholders, TransactionFacts } from '@app/core';
import type { ApplyContext } from '@app/events';
import { VideoEntity } from './video.entity';
import { rowToVideoView, VIDEO_VIEW_COLUMNS, type VideoView, type VideoViewRow } from './video.view';

/** Most ids one merged item load asks for (a prepared statement's parameters, see directReads). */
const MAX_ITEM_BATCH = 64;
/** The lengths a merged load's `IN` list is padded to (repeating an id): a few prepared statements, not 64. */
const ITEM_BATCH_SIZES = [1, 10, 20, 40, MAX_ITEM_BATCH];

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
  /** Item loads of concurrent pages, merged per route ({@link viewsByIds}). */
  private readonly itemLoads: Record<'primary' | 'replica', DataLoader<number, VideoView | null>>;

  constructor(
    @InjectRepository(VideoEntity) private readonly repo: Repository<VideoEntity>,
    private readonly db: Database,
  ) {
    const loader = (route: 'primary' | 'replica'): DataLoader<number, VideoView | null> =>
      new DataLoader((ids) => this.loadViews(ids, route), { cache: false, maxBatchSize: MAX_ITEM_BATCH });
    this.itemLoads = { primary: loader('primary'), replica: loader('replica') };
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

  /**
   * The videos of `ids` as `getDetail` shows them, in the order of `ids`, gone ones left out: from
   * the primary, or as reads go (a replica when {@link ReadRouting.mayUseReplica} allows).
   *
   * The loads of concurrent callers are merged ({@link https://github.com/graphql/dataloader
   * dataloader}, no cache): every call made in the same tick on the same route (primary, replica)
   * is one `SELECT … WHERE id IN (…)` of at most {@link MAX_ITEM_BATCH} ids, its list padded to one
   * of {@link ITEM_BATCH_SIZES} so that a few prepared statements serve every length. Pages whose
   * items missed the cache together (their `MGET` replies arrive in one read of Redis's socket)
   * cost MySQL one statement, not one each. Each call still reads after it was made, so a fill
   * guarded by a change stamp read before the call stays guarded. A failed statement fails every
   * call it served. A view may be shared by concurrent callers: read it, do not change it.
   */
  async viewsByIds(ids: number[], primary = false): Promise<VideoView[]> {
    if (ids.length === 0) return [];
    const route = !primary && (await this.db.reads.mayUseReplica()) ? 'replica' : 'primary';
    const got = await this.itemLoads[route].loadMany(ids);
    const out: VideoView[] = [];
    for (const v of got) {
      if (v instanceof Error) throw v;
      if (v) out.push(v);
    }
    return out;
  }

  private async loadViews(
    ids: readonly number[],
    route: 'primary' | 'replica',
  ): Promise<(VideoView | null)[]> {
    const unique = [...new Set(ids)];
    const n = ITEM_BATCH_SIZES.find((size) => size >= unique.length) ?? unique.length;
    const params = unique.concat(Array<number>(n - unique.length).fill(unique[unique.length - 1]));
    const sql = `SELECT ${VIDEO_VIEW_COLUMNS} FROM videos v WHERE v.id IN (${placeholders(n)})`;
    const rows = await (route === 'primary'
      ? outsideReplicaRead(() => this.db.query<VideoViewRow>(sql, params))
      : this.db.reader.runAllowed(() => this.db.query<VideoViewRow>(sql, params)));
    const byId = new Map(
      rows.map((r) => {
        const v = rowToVideoView(r);
        return [v.id, v];
      }),
    );
    return ids.map((id) => byId.get(id) ?? null);
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
