import type { EntityManager } from 'typeorm';
import { affectedRows } from '@app/core';

/**
 * Adds to `into` the ids of the videos matching `predicate` (SQL over `videos`): what a recount's
 * UPDATE with that predicate is about to fix, for the caches of a quiet system's recount.
 */
export async function collectVideoIds(
  manager: EntityManager,
  predicate: string,
  into: Set<number>,
): Promise<void> {
  const rows = await manager.query<{ id: number | string }[]>(`SELECT id FROM videos WHERE ${predicate}`);
  for (const r of rows) into.add(Number(r.id));
}

const OFF = 'popularity <> likes_count + comments_count';

/**
 * `popularity = likes_count + comments_count`; run after those two are exact. Rows fixed; with
 * `fixed`, first adds their ids to it ({@link collectVideoIds}).
 */
export async function recountPopularity(manager: EntityManager, fixed?: Set<number>): Promise<number> {
  if (fixed) await collectVideoIds(manager, OFF, fixed);
  return affectedRows(manager, `UPDATE videos SET popularity = likes_count + comments_count WHERE ${OFF}`);
}
