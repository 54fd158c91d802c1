import { lockClause, type Dialect } from '@app/core';
import type { EntityManager } from 'typeorm';

/**
 * The caller's current username, share-locked: a concurrent rename waits for this transaction,
 * then renames what it wrote too. `null` when the account does not exist.
 */
export async function lockAuthorName(
  manager: EntityManager,
  dialect: Dialect,
  accountId: number,
): Promise<string | null> {
  const rows = await manager.query<{ username: string }[]>(
    `SELECT username FROM accounts WHERE id = ?${lockClause(dialect, 'share')}`,
    [accountId],
  );
  return rows[0]?.username ?? null;
}
