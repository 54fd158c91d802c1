import { Injectable } from '@nestjs/common';

/** After a follow or unfollow committed: drop what showed the old follows. Errors are logged, not thrown. */
export type AfterFollowHook = (followerId: number, vloggerId: number) => Promise<void>;

/**
 * How modules above social (feed) follow a follow or unfollow without libs/social importing them:
 * `hooks.registerAfterCommit((followerId) => this.dropFollowingPages(followerId))`. The hooks run
 * after the transaction commits and before the write answers (read-your-writes, SPEC §7.5).
 */
@Injectable()
export class FollowHooks {
  private readonly afterCommit: AfterFollowHook[] = [];

  registerAfterCommit(fn: AfterFollowHook): void {
    this.afterCommit.push(fn);
  }

  /** @internal called by SocialService after commit; never throws. */
  async runAfterCommit(
    followerId: number,
    vloggerId: number,
    onError: (err: unknown) => void,
  ): Promise<void> {
    for (const fn of this.afterCommit) {
      try {
        await fn(followerId, vloggerId);
      } catch (err) {
        onError(err);
      }
    }
  }
}
