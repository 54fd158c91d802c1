import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Database } from '@app/core';
import { AccountEntity } from './account.entity';

export type NewAccount = Omit<AccountEntity, 'id'>;

/** The `accounts` aggregate. Reads take the primary unless the caller routes them; writes take the caller's manager. */
@Injectable()
export class AccountRepository {
  constructor(private readonly db: Database) {}

  private manager(m?: EntityManager): EntityManager {
    return m ?? this.db.manager;
  }

  findById(id: number, m?: EntityManager): Promise<AccountEntity | null> {
    return this.manager(m).findOne(AccountEntity, { where: { id } });
  }

  /**
   * By the case-folded name key. MySQL's collation may match accent variants, so the key must
   * match exactly in both dialects.
   */
  async findByUsernameKey(key: string): Promise<AccountEntity | null> {
    const row = await this.manager().findOne(AccountEntity, { where: { usernameKey: key } });
    return row && row.usernameKey === key ? row : null;
  }

  /** By the confusables skeleton of a name (UTS #39): the account whose name looks the same. */
  async findBySkeleton(skeleton: string): Promise<AccountEntity | null> {
    const row = await this.manager().findOne(AccountEntity, { where: { usernameSkeleton: skeleton } });
    return row && row.usernameSkeleton === skeleton ? row : null;
  }

  /** The stored token digest only (the token check's database path). */
  async tokenDigest(id: number, m?: EntityManager): Promise<string | null> {
    const row = await this.manager(m).findOne(AccountEntity, {
      select: { id: true, token: true },
      where: { id },
    });
    return row?.token ?? null;
  }

  async insert(m: EntityManager, row: NewAccount): Promise<AccountEntity> {
    return m.getRepository(AccountEntity).save(m.getRepository(AccountEntity).create(row));
  }

  /** Inside a transaction: the row, locked for update on MySQL (SQLite transactions are serialised). */
  lockById(m: EntityManager, id: number): Promise<AccountEntity | null> {
    return m.findOne(AccountEntity, {
      where: { id },
      ...(this.db.dialect === 'mysql' ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }

  async save(m: EntityManager, account: AccountEntity): Promise<void> {
    await m.getRepository(AccountEntity).save(account);
  }
}
