import type { EntityManager } from 'typeorm';
import { affectedRows } from '@app/core';

const COMMENTS = '(SELECT COUNT(*) FROM comments c WHERE c.video_id = videos.id)';

/** `videos.comments_count` from the `comments` rows, set-based. Returns the rows fixed. */
export function recountComments(manager: EntityManager): Promise<number> {
  return affectedRows(
    manager,
    `UPDATE videos SET comments_count = ${COMMENTS} WHERE comments_count <> ${COMMENTS}`,
  );
}
