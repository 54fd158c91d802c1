import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, In, LessThan, Repository } from 'typeorm';
import { AccountEntity } from '@app/account';
import { CounterBatch } from '@app/core';
import type { ApplyContext } from '@app/events';
import { SocialEntity } from './social.entity';

/** The follow counters of an account. */
export type AccountCounter = 'follower_count' | 'vlogger_count';
const ACCOUNT_COUNTERS: readonly AccountCounter[] = ['follower_count', 'vlogger_count'];

/** The `socials` source rows, and the follow counters they derive on `accounts`. */
@Injectable()
export class SocialRepository {
  constructor(
    @InjectRepository(SocialEntity) private readonly repo: Repository<SocialEntity>,
    @InjectRepository(AccountEntity) private readonly accounts: Repository<AccountEntity>,
  ) {}

  findAccount(id: number): Promise<AccountEntity | null> {
    return this.accounts.findOne({ where: { id } });
  }

  async accountExists(manager: EntityManager, id: number): Promise<boolean> {
    return (await manager.count(AccountEntity, { where: { id } })) > 0;
  }

  /** By ids; order is the caller's business. */
  async findAccounts(ids: number[]): Promise<Map<number, AccountEntity>> {
    if (ids.length === 0) return new Map();
    const rows = await this.accounts.find({ where: { id: In(ids) } });
    return new Map(rows.map((a) => [a.id, a]));
  }

  /** Follows of a vlogger (its followers), newest first by follow id. */
  listFollowers(vloggerId: number, idBefore: number | undefined, limit: number): Promise<SocialEntity[]> {
    return this.repo.find({
      where: idBefore ? { vloggerId, id: LessThan(idBefore) } : { vloggerId },
      order: { id: 'DESC' },
      take: limit,
    });
  }

  /** Follows by a follower (its vloggers), newest first by follow id. */
  listVloggers(followerId: number, idBefore: number | undefined, limit: number): Promise<SocialEntity[]> {
    return this.repo.find({
      where: idBefore ? { followerId, id: LessThan(idBefore) } : { followerId },
      order: { id: 'DESC' },
      take: limit,
    });
  }

  async insert(manager: EntityManager, row: Omit<SocialEntity, 'id'>): Promise<void> {
    await manager.insert(SocialEntity, row);
  }

  async delete(manager: EntityManager, followerId: number, vloggerId: number): Promise<number> {
    return (await manager.delete(SocialEntity, { followerId, vloggerId })).affected ?? 0;
  }

  /**
   * The batch's follow-counter changes on `accounts`, written once before commit: one
   * `UPDATE … CASE` for every account the batch touched, rows locked in id order.
   */
  counters(context: ApplyContext): CounterBatch<AccountCounter> {
    return context.defer('accounts.counters', () => new CounterBatch('accounts', ACCOUNT_COUNTERS));
  }
}
