import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintAsNumber } from '@app/core';

export enum UploadSessionStatus {
  Open = 0,
  Completed = 1,
  /** The assembled file did not match its hash or size, or is no video: its parts are gone. */
  Discarded = 2,
}

/** A resumable chunked upload (SPEC §8.1): one row per `/video/chunk/init`. */
@Entity('upload_sessions')
@Index('ix_upload_sessions_account', ['accountId', 'fileHash'])
@Index('ix_upload_sessions_expires', ['expiresAt'])
export class UploadSessionEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  /** What the client holds: 32 random hex digits. */
  @Index('uq_upload_sessions_upload_id', { unique: true })
  @Column({ name: 'upload_id', type: 'varchar', length: 32 })
  uploadId!: string;

  @Column({ name: 'account_id', type: 'int' })
  accountId!: number;

  @Column({ type: 'varchar', length: 255 })
  filename!: string;

  @Column({ name: 'file_size', type: 'bigint', transformer: bigintAsNumber })
  fileSize!: number;

  @Column({ name: 'chunk_size', type: 'int' })
  chunkSize!: number;

  @Column({ name: 'total_chunks', type: 'int' })
  totalChunks!: number;

  /** MD5 of the whole file, 32 lowercase hex digits. */
  @Column({ name: 'file_hash', type: 'varchar', length: 32 })
  fileHash!: string;

  @Column({ type: 'smallint', default: UploadSessionStatus.Open })
  status!: UploadSessionStatus;

  /** Storage key of the assembled file once completed, else `""`. */
  @Column({ name: 'result_key', type: 'varchar', length: 255, default: '' })
  resultKey!: string;

  /** While a `complete` assembles the file: until when its claim holds (unix ms), else 0. */
  @Column({ name: 'assembling_until', type: 'bigint', default: 0, transformer: bigintAsNumber })
  assemblingUntil!: number;

  @Column({ name: 'create_time', type: 'bigint', transformer: bigintAsNumber })
  createTime!: number;

  /** 24 h after the last chunk (or after completion); then the session and its parts are deleted. */
  @Column({ name: 'expires_at', type: 'bigint', transformer: bigintAsNumber })
  expiresAt!: number;
}

/**
 * One stored part of a session. A row per part (unique per index) rather than a bitmap on the
 * session, so concurrent part uploads never overwrite each other's state.
 */
@Entity('upload_parts')
@Index('uq_upload_parts_chunk', ['sessionId', 'chunkIndex'], { unique: true })
export class UploadPartEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ name: 'session_id', type: 'int' })
  sessionId!: number;

  @Column({ name: 'chunk_index', type: 'int' })
  chunkIndex!: number;

  @Column({ name: 'storage_key', type: 'varchar', length: 255 })
  storageKey!: string;

  @Column({ type: 'int' })
  size!: number;

  @Column({ name: 'create_time', type: 'bigint', transformer: bigintAsNumber })
  createTime!: number;
}
