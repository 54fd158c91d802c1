import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintAsNumber } from '@app/core';

@Entity('videos')
@Index('ix_videos_create_time', ['createTime', 'id'])
@Index('ix_videos_likes_count', ['likesCount', 'id'])
@Index('ix_videos_popularity', ['popularity', 'id'])
@Index('ix_videos_author_time', ['authorId', 'createTime', 'id'])
@Index('ix_videos_author_id', ['authorId', 'id'])
export class VideoEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ name: 'author_id', type: 'int' })
  authorId!: number;

  /** Author's name, denormalised for feeds; updated on rename. */
  @Column({ type: 'varchar', length: 32 })
  username!: string;

  @Column({ type: 'varchar', length: 255 })
  title!: string;

  @Column({ type: 'varchar', length: 2000, default: '' })
  description!: string;

  @Column({ name: 'play_url', type: 'varchar', length: 512 })
  playUrl!: string;

  @Column({ name: 'cover_url', type: 'varchar', length: 512 })
  coverUrl!: string;

  /** unix ms */
  @Column({ name: 'create_time', type: 'bigint', transformer: bigintAsNumber })
  createTime!: number;

  @Column({ name: 'likes_count', type: 'int', default: 0 })
  likesCount!: number;

  @Column({ name: 'comments_count', type: 'int', default: 0 })
  commentsCount!: number;

  /** likes + comments (SPEC §6). */
  @Column({ type: 'int', default: 0 })
  popularity!: number;

  /** The tags parsed at publish, for display (`encodeTags`); `video_tags` serves `listByTag`. */
  @Column({ type: 'varchar', length: 1024, default: '' })
  tags!: string;
}
