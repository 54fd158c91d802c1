import type { EntityManager } from 'typeorm';
import { affectedRows } from '@app/core';

/** `popularity = likes_count + comments_count`; run after those two are exact. Rows fixed. */
export function recountPopularity(manager: EntityManager): Promise<number> {
  return affectedRows(
    manager,
    'UPDATE videos SET popularity = likes_count + comments_count WHERE popularity <> likes_count + comments_count',
  );
}
