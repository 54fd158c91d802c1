import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { APP_CONFIG, Database, lockClause } from '@app/core';
import type { AppConfig } from '@app/core';
import { UploadSessionStatus } from './upload-session.entity';
import { quotaExceeded } from './storage.errors';

export interface UploadUsage {
  /** Bytes of the account's stored uploads. */
  stored: number;
  /** Declared sizes of its open, unexpired chunked uploads (their parts take room too). */
  reserved: number;
  openSessions: number;
}

/**
 * The per-account storage quota (`UPLOAD_QUOTA`, default 2 GiB): stored uploads plus open
 * chunked uploads may not exceed it. Every decision that adds to an account's usage is taken
 * under {@link lock}, so two concurrent uploads cannot both squeeze into the last free bytes.
 */
@Injectable()
export class UploadQuota {
  readonly limit: number;

  constructor(
    private readonly db: Database,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.limit = config.uploadQuotaBytes;
  }

  /**
   * Serialises the account's quota decisions until the transaction ends: MySQL locks the
   * account row (SQLite transactions are already serial).
   */
  async lock(manager: EntityManager, accountId: number): Promise<void> {
    const lock = lockClause(this.db.dialect, 'update');
    if (lock) await manager.query(`SELECT id FROM accounts WHERE id = ?${lock}`, [accountId]);
  }

  async usage(
    accountId: number,
    now: number,
    manager: EntityManager = this.db.manager,
  ): Promise<UploadUsage> {
    const [stored] = await manager.query<{ n: string | number | null }[]>(
      'SELECT SUM(size) AS n FROM uploads WHERE account_id = ?',
      [accountId],
    );
    const [open] = await manager.query<{ n: string | number | null; c: string | number }[]>(
      'SELECT SUM(file_size) AS n, COUNT(*) AS c FROM upload_sessions WHERE account_id = ? AND status = ? AND expires_at > ?',
      [accountId, UploadSessionStatus.Open, now],
    );
    return {
      stored: Number(stored?.n ?? 0),
      reserved: Number(open?.n ?? 0),
      openSessions: Number(open?.c ?? 0),
    };
  }

  /** Bytes the account may still add (≤ 0: none). */
  remaining(usage: UploadUsage): number {
    return this.limit - usage.stored - usage.reserved;
  }

  /** 413 when `bytes` more would not fit. */
  assertFits(usage: UploadUsage, bytes: number): void {
    if (bytes > this.remaining(usage)) throw quotaExceeded();
  }
}
