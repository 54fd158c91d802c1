import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintAsNumber } from '@app/core';

@Entity('accounts')
export class AccountEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  /** As the user typed it (display). */
  @Column({ type: 'varchar', length: 32 })
  username!: string;

  /** `username.toLowerCase()`: the case-insensitive unique key, the same in both dialects. */
  @Index('uq_accounts_username_key', { unique: true })
  @Column({ name: 'username_key', type: 'varchar', length: 64 })
  usernameKey!: string;

  /**
   * The name's confusables skeleton (UTS #39, `usernameSkeleton`): unique, so look-alike names
   * cannot both exist. Null only for a legacy row whose skeleton another account already held.
   */
  @Index('uq_accounts_username_skeleton', { unique: true })
  @Column({ name: 'username_skeleton', type: 'varchar', length: 255, nullable: true })
  usernameSkeleton!: string | null;

  @Column({ name: 'password_hash', type: 'varchar', length: 100 })
  passwordHash!: string;

  /**
   * The one active access token (seed: `account.token`), stored as its SHA-256 digest
   * (`tokenDigest`) so a database dump holds no usable token; null when logged out.
   */
  @Column({ type: 'varchar', length: 1024, nullable: true })
  token!: string | null;

  /** sha256 of the refresh token; null when none is active. */
  @Column({ name: 'refresh_token_hash', type: 'varchar', length: 64, nullable: true })
  refreshTokenHash!: string | null;

  @Column({ name: 'refresh_expires_at', type: 'bigint', nullable: true, transformer: bigintAsNumber })
  refreshExpiresAt!: number | null;

  @Column({ name: 'avatar_url', type: 'varchar', length: 512, default: '' })
  avatarUrl!: string;

  @Column({ type: 'varchar', length: 255, default: '' })
  bio!: string;

  /** Derived from `socials` (SocialWorker / direct write). */
  @Column({ name: 'follower_count', type: 'int', default: 0 })
  followerCount!: number;

  @Column({ name: 'vlogger_count', type: 'int', default: 0 })
  vloggerCount!: number;

  @Column({ name: 'create_time', type: 'bigint', transformer: bigintAsNumber })
  createTime!: number;
}
