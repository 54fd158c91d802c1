import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintAsNumber } from '@app/core';

/**
 * A direct message (SPEC §8.2). `pair_low_id`/`pair_high_id` are the two accounts in id order, so
 * one conversation, both directions, is one range of `ix_messages_pair`, newest first by id.
 * Whether it was read is not stored here: see {@link ConversationEntity.lastReadId}.
 */
@Entity('messages')
@Index('ix_messages_pair', ['pairLowId', 'pairHighId', 'id'])
export class MessageEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ name: 'from_id', type: 'int' })
  fromId!: number;

  @Column({ name: 'to_id', type: 'int' })
  toId!: number;

  @Column({ name: 'pair_low_id', type: 'int' })
  pairLowId!: number;

  @Column({ name: 'pair_high_id', type: 'int' })
  pairHighId!: number;

  @Column({ type: 'varchar', length: 2000 })
  content!: string;

  @Column({ name: 'create_time', type: 'bigint', transformer: bigintAsNumber })
  createTime!: number;
}
