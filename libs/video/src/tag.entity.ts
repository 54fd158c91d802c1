import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import { bigintAsNumber } from '@app/core';

/**
 * One row per tag ever used (SPEC §8.3), by its stored form (NFKC, lower case); the name has a
 * binary collation on MySQL (set in the migration), so `é` and `e` are two tags as on SQLite.
 */
@Entity('tags')
@Index('uq_tags_name', ['name'], { unique: true })
export class TagEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  /** Up to 50 characters as typed; lower-casing may lengthen a few (`İ` → `i̇`). */
  @Column({ type: 'varchar', length: 100 })
  name!: string;
}

/**
 * A video's tags, for `/feed/listByTag`: the video's `create_time` is copied here so that
 * `(tag_id, create_time, video_id)` serves the keyset page as one backward range, no filesort.
 * Removed with the video (a VideoDeleteHook, same transaction).
 */
@Entity('video_tags')
@Index('ix_video_tags_tag_time', ['tagId', 'createTime', 'videoId'])
export class VideoTagEntity {
  @PrimaryColumn({ name: 'video_id', type: 'int' })
  videoId!: number;

  @PrimaryColumn({ name: 'tag_id', type: 'int' })
  tagId!: number;

  /** unix ms, the video's. */
  @Column({ name: 'create_time', type: 'bigint', transformer: bigintAsNumber })
  createTime!: number;
}
