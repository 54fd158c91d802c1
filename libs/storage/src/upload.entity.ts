import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintAsNumber } from '@app/core';

export type UploadKind = 'video' | 'cover' | 'avatar';

/** Every stored file and its owner, so a URL can be checked as "one of the caller's uploads". */
@Entity('uploads')
@Index('ix_uploads_account', ['accountId', 'id'])
@Index('ix_uploads_unreferenced', ['referenced', 'createTime'])
export class UploadEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ name: 'account_id', type: 'int' })
  accountId!: number;

  @Column({ type: 'varchar', length: 16 })
  kind!: UploadKind;

  /** Storage key, e.g. `videos/2026/11/3f2a….mp4`. */
  @Index('uq_uploads_storage_key', { unique: true })
  @Column({ name: 'storage_key', type: 'varchar', length: 255 })
  storageKey!: string;

  @Column({ name: 'content_type', type: 'varchar', length: 64 })
  contentType!: string;

  @Column({ type: 'bigint', transformer: bigintAsNumber })
  size!: number;

  @Column({ name: 'create_time', type: 'bigint', transformer: bigintAsNumber })
  createTime!: number;

  /**
   * 1 once the collector found a video or an avatar using this file (it is then kept until its
   * video is deleted); 0 until then: still 0 a day after upload, the file is collected.
   */
  @Column({ type: 'smallint', default: 0 })
  referenced!: number;
}
