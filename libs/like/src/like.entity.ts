import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintAsNumber } from '@app/core';

@Entity('likes')
@Index('uq_likes_video_account', ['videoId', 'accountId'], { unique: true })
@Index('ix_likes_account', ['accountId', 'id'])
export class LikeEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ name: 'video_id', type: 'int' })
  videoId!: number;

  @Column({ name: 'account_id', type: 'int' })
  accountId!: number;

  @Column({ name: 'create_time', type: 'bigint', transformer: bigintAsNumber })
  createTime!: number;
}
