import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

/** Runs inside the rename transaction: update denormalised copies of the name (videos, comments). */
export type RenameHook = (manager: EntityManager, accountId: number, newUsername: string) => Promise<void>;
/** Runs after the rename committed: invalidate caches that show the name. Errors are logged, not thrown. */
export type AfterRenameHook = (accountId: number, newUsername: string) => Promise<void>;

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
export class AccountRenameHooks {
  private readonly inTransaction: RenameHook[] = [];
  private readonly afterCommit: AfterRenameHook[] = [];

  register(fn: RenameHook): void {
    this.inTransaction.push(fn);
  }

  registerAfterCommit(fn: AfterRenameHook): void {
    this.afterCommit.push(fn);
  }

  /** @internal called by AccountService inside the rename transaction. */
  async runInTransaction(manager: EntityManager, accountId: number, newUsername: string): Promise<void> {
    for (const fn of this.inTransaction) await fn(manager, accountId, newUsername);
  }

  /** @internal called by AccountService after commit; never throws. */
  async runAfterCommit(
    accountId: number,
    newUsername: string,
    onError: (err: unknown) => void,
  ): Promise<void> {
    for (const fn of this.afterCommit) {
      try {
        await fn(accountId, newUsername);
      } catch (err) {
        onError(err);
      }
    }
  }
}
