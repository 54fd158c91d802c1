import type { EntityManager } from 'typeorm';
import { affectedRows } from '@app/core';

const FOLLOWERS = '(SELECT COUNT(*) FROM socials s WHERE s.vlogger_id = accounts.id)';
const VLOGGERS = '(SELECT COUNT(*) FROM socials s WHERE s.follower_id = accounts.id)';

/** `accounts.follower_count` from `socials`. Returns the rows fixed. */
export function recountFollowers(manager: EntityManager): Promise<number> {
  return affectedRows(
    manager,
    `UPDATE accounts SET follower_count = ${FOLLOWERS} WHERE follower_count <> ${FOLLOWERS}`,
  );
}

/** `accounts.vlogger_count` from `socials`. Returns the rows fixed. */
export function recountVloggers(manager: EntityManager): Promise<number> {
  return affectedRows(
    manager,
    `UPDATE accounts SET vlogger_count = ${VLOGGERS} WHERE vlogger_count <> ${VLOGGERS}`,
  );
}
