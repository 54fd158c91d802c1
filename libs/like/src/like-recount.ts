import type { EntityManager } from 'typeorm';
import { affectedRows } from '@app/core';
import { collectVideoIds } from '@app/video';

const LIKES = '(SELECT COUNT(*) FROM likes l WHERE l.video_id = videos.id)';
const OFF = `likes_count <> ${LIKES}`;

/**
 * `videos.likes_count` from the `likes` rows, set-based. Returns the rows fixed; with `fixed`,
 * first adds their ids to it (`collectVideoIds`: one more scan).
 */
export async function recountLikes(manager: EntityManager, fixed?: Set<number>): Promise<number> {
  if (fixed) await collectVideoIds(manager, OFF, fixed);
  return affectedRows(manager, `UPDATE videos SET likes_count = ${LIKES} WHERE ${OFF}`);
}
