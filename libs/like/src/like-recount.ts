import type { EntityManager } from 'typeorm';
import { affectedRows } from '@app/core';

const LIKES = '(SELECT COUNT(*) FROM likes l WHERE l.video_id = videos.id)';

/** `videos.likes_count` from the `likes` rows, set-based. Returns the rows fixed. */
export function recountLikes(manager: EntityManager): Promise<number> {
  return affectedRows(manager, `UPDATE videos SET likes_count = ${LIKES} WHERE likes_count <> ${LIKES}`);
}
