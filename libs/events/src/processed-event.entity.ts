import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from '@app/core';

/** One row per applied event: the at-most-once guard for derived updates (whoever applies them). */
@Entity('processed_events')
@Index('ix_processed_events_processed_at', ['processedAt'])
export class ProcessedEventEntity {
  @PrimaryColumn({ name: 'event_id', type: 'varchar', length: 36 })
  eventId!: string;

  @Column({ name: 'routing_key', type: 'varchar', length: 64 })
  routingKey!: string;

  @Column({ name: 'processed_at', type: 'bigint', transformer: bigintAsNumber })
  processedAt!: number;
}
