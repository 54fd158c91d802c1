import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintAsNumber } from '@app/core';

export enum OutboxStatus {
  /** Written with its source row; not yet confirmed by the broker nor applied. */
  Pending = 0,
  /** The broker confirmed it; a consumer will apply it. */
  Sent = 1,
  /** Applied directly (no broker, or publish failed: 降级直写). */
  Applied = 2,
}

@Entity('outbox')
@Index('ix_outbox_status', ['status', 'id'])
export class OutboxEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @Index('uq_outbox_event_id', { unique: true })
  @Column({ name: 'event_id', type: 'varchar', length: 36 })
  eventId!: string;

  @Column({ type: 'varchar', length: 64 })
  exchange!: string;

  @Column({ name: 'routing_key', type: 'varchar', length: 64 })
  routingKey!: string;

  /** JSON payload (SPEC §4). */
  @Column({ type: 'text' })
  payload!: string;

  @Column({ type: 'smallint', default: 0 })
  status!: OutboxStatus;

  @Column({ type: 'int', default: 0 })
  attempts!: number;

  @Column({ name: 'create_time', type: 'bigint', transformer: bigintAsNumber })
  createTime!: number;

  @Column({ name: 'update_time', type: 'bigint', transformer: bigintAsNumber })
  updateTime!: number;
}
