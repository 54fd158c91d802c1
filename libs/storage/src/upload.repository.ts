import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Database } from '@app/core';
import { UploadEntity, UploadKind } from './upload.entity';

@Injectable()
export class UploadRepository {
  constructor(private readonly db: Database) {}

  async insert(row: Omit<UploadEntity, 'id'>, manager?: EntityManager): Promise<UploadEntity> {
    const write = (m: EntityManager) =>
      m.getRepository(UploadEntity).save(m.getRepository(UploadEntity).create(row));
    return manager ? write(manager) : this.db.transaction(write);
  }

  findOwned(accountId: number, storageKey: string, kinds: UploadKind[]): Promise<UploadEntity | null> {
    return this.db.manager
      .getRepository(UploadEntity)
      .createQueryBuilder('u')
      .where('u.storage_key = :storageKey AND u.account_id = :accountId AND u.kind IN (:...kinds)', {
        storageKey,
        accountId,
        kinds,
      })
      .getOne();
  }
}
