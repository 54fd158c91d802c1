import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintAsNumber } from '@app/core';

/**
 * A stored file to delete: written in the transaction that stops it being used (a video
 * deleted, an upload collected), deleted once the file is gone, so a failed deletion is retried
 * by the sweeper instead of forgotten.
 */
@Entity('file_deletions')
@Index('ix_file_deletions_due', ['nextAttemptAt'])
@Index('ix_file_deletions_video', ['videoId'])
export class FileDeletionEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @Index('uq_file_deletions_storage_key', { unique: true })
  @Column({ name: 'storage_key', type: 'varchar', length: 255 })
  storageKey!: string;

  /** The deleted video the file belonged to, 0 for a collected upload. */
  @Column({ name: 'video_id', type: 'int', default: 0 })
  videoId!: number;

  @Column({ type: 'int', default: 0 })
  attempts!: number;

  @Column({ name: 'next_attempt_at', type: 'bigint', transformer: bigintAsNumber })
  nextAttemptAt!: number;

  @Column({ name: 'create_time', type: 'bigint', transformer: bigintAsNumber })
  createTime!: number;
}
