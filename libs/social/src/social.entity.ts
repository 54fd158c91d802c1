import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintAsNumber } from '@app/core';

@Entity('socials')
@Index('uq_socials_follower_vlogger', ['followerId', 'vloggerId'], { unique: true })
@Index('ix_socials_vlogger', ['vloggerId', 'id'])
@Index('ix_socials_follower', ['followerId', 'id'])
export class SocialEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ name: 'follower_id', type: 'int' })
  followerId!: number;

  @Column({ name: 'vlogger_id', type: 'int' })
  vloggerId!: number;

  @Column({ name: 'create_time', type: 'bigint', transformer: bigintAsNumber })
  createTime!: number;
}
