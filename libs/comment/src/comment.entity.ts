import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintAsNumber } from '@app/core';

@Entity('comments')
@Index('ix_comments_video', ['videoId', 'id'])
@Index('ix_comments_author', ['authorId', 'id'])
export class CommentEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ name: 'video_id', type: 'int' })
  videoId!: number;

  @Column({ name: 'author_id', type: 'int' })
  authorId!: number;

  /** Author's name, denormalised; updated on rename. */
  @Column({ type: 'varchar', length: 32 })
  username!: string;

  @Column({ type: 'varchar', length: 1000 })
  content!: string;

  @Column({ name: 'create_time', type: 'bigint', transformer: bigintAsNumber })
  createTime!: number;
}
