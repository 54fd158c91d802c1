import type { EntityManager } from 'typeorm';
import { affectedRows } from '@app/core';
import { collectVideoIds } from '@app/video';

const COMMENTS = '(SELECT COUNT(*) FROM comments c WHERE c.video_id = videos.id)';
const OFF = `comments_count <> ${COMMENTS}`;

/**
 * `videos.comments_count` from the `comments` rows, set-based. Returns the rows fixed; with
 * `fixed`, first adds their ids to it (as `recountLikes`).
 */
export async function recountComments(manager: EntityManager, fixed?: Set<number>): Promise<number> {
  if (fixed) await collectVideoIds(manager, OFF, fixed);
  return affectedRows(manager, `UPDATE videos SET comments_count = ${COMMENTS} WHERE ${OFF}`);
}
