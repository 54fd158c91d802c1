import type { Dialect } from '@app/core';
import type { EntityManager } from 'typeorm';

/**
 * The locking suffix of a `SELECT` inside a transaction. SQLite transactions are already
 * serialised, so only MySQL/MariaDB get one; `LOCK IN SHARE MODE` is the shared-lock spelling
 * both MySQL 8 and MariaDB accept (MariaDB has no `FOR SHARE`).
 */
export function lockClause(dialect: Dialect, mode: 'update' | 'share'): string {
  if (dialect === 'sqlite') return '';
  return mode === 'update' ? ' FOR UPDATE' : ' LOCK IN SHARE MODE';
}

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
