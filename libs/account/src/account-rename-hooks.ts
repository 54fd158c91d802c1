import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AfterCommitHooks } from '@app/core';

/** Runs inside the rename transaction: update denormalised copies of the name (videos, comments). */
export type RenameHook = (manager: EntityManager, accountId: number, newUsername: string) => Promise<void>;

/**
 * How modules above accounts (video, comment) follow a rename without libs/account importing
 * them. Register from your service's constructor or `onModuleInit`:
 *
 *   constructor(hooks: AccountRenameHooks) {
 *     hooks.register((m, id, name) => m.update(VideoEntity, { authorId: id }, { username: name }).then(() => undefined));
 *     hooks.registerAfterCommit((id) => this.invalidateAuthorCaches(id));
 *   }
 */
@Injectable()
export class AccountRenameHooks extends AfterCommitHooks<[accountId: number, newUsername: string]> {
  private readonly inTransaction: RenameHook[] = [];

  register(fn: RenameHook): void {
    this.inTransaction.push(fn);
  }

  /** @internal called by AccountService inside the rename transaction. */
  async runInTransaction(manager: EntityManager, accountId: number, newUsername: string): Promise<void> {
    for (const fn of this.inTransaction) await fn(manager, accountId, newUsername);
  }
}
