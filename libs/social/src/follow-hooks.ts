import { Injectable } from '@nestjs/common';
import { AfterCommitHooks } from '@app/core';

/**
 * How modules above social (feed) follow a follow or unfollow without libs/social importing them:
 * `hooks.registerAfterCommit((followerId) => this.dropFollowingPages(followerId))`. The hooks run
 * after the transaction commits and before the write answers (read-your-writes, SPEC §7.5), with
 * the follower and the vlogger.
 */
@Injectable()
export class FollowHooks extends AfterCommitHooks<[followerId: number, vloggerId: number]> {}
