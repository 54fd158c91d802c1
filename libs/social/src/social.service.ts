import { Injectable, Logger } from '@nestjs/common';
import { Database, isDuplicateKey, nowMs } from '@app/core';
import { EventBus, makeEvent } from '@app/events';
import { FollowHooks } from './follow-hooks';
import { SocialErrors } from './social.errors';
import { SocialRepository } from './social.repository';
import type { SocialEntity } from './social.entity';
import {
  FollowAccountView,
  FollowCounts,
  FollowersPage,
  toFollowAccountView,
  VloggersPage,
} from './social.view';

@Injectable()
export class SocialService {
  private readonly logger = new Logger(SocialService.name);

  constructor(
    private readonly bus: EventBus,
    private readonly socials: SocialRepository,
    private readonly db: Database,
    private readonly hooks: FollowHooks,
  ) {}

  /** 400 self, 404 unknown account, 409 already following. */
  async follow(followerId: number, vloggerId: number): Promise<void> {
    if (followerId === vloggerId) throw SocialErrors.selfFollow();
    try {
      await this.bus.transaction(async (manager, emit) => {
        if (!(await this.socials.accountExists(manager, vloggerId))) throw SocialErrors.accountNotFound();
        const ts = nowMs();
        await this.socials.insert(manager, { followerId, vloggerId, createTime: ts });
        emit(makeEvent('social.follow', { follower_id: followerId, vlogger_id: vloggerId }, ts));
      });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      // Already following: perhaps by an earlier attempt whose commit outcome was unknown (a 503
      // the client retried, SPEC §1), whose after-commit steps never ran. They only drop state
      // that may be stale, so they run again here.
      await this.afterCommit(followerId, vloggerId);
      throw SocialErrors.alreadyFollowing();
    }
    await this.afterCommit(followerId, vloggerId);
  }

  /** 404 unknown account, 409 not following (oneself included: nobody follows themselves; SPEC §3). */
  async unfollow(followerId: number, vloggerId: number): Promise<void> {
    if (followerId === vloggerId) throw SocialErrors.notFollowing();
    const removed = await this.bus.transaction(async (manager, emit) => {
      if (!(await this.socials.accountExists(manager, vloggerId))) throw SocialErrors.accountNotFound();
      if ((await this.socials.delete(manager, followerId, vloggerId)) === 0) return false;
      emit(makeEvent('social.unfollow', { follower_id: followerId, vlogger_id: vloggerId }, nowMs()));
      return true;
    });
    // Also after a 409: the unfollow may be a retry of one whose after-commit steps never ran (see follow).
    await this.afterCommit(followerId, vloggerId);
    if (!removed) throw SocialErrors.notFollowing();
  }

  private afterCommit(followerId: number, vloggerId: number): Promise<void> {
    return this.hooks.runAfterCommit([followerId, vloggerId], (err) =>
      this.logger.warn(`after-follow hook failed for ${followerId} → ${vloggerId}: ${String(err)}`),
    );
  }

  /** Lists and counts may be read from a replica (`Database.reader`), except for a recent writer. */
  getFollowers(vloggerId: number, idBefore: number | undefined, limit: number): Promise<FollowersPage> {
    return this.db.reader.run(() => this.followers(vloggerId, idBefore, limit));
  }

  getVloggers(followerId: number, idBefore: number | undefined, limit: number): Promise<VloggersPage> {
    return this.db.reader.run(() => this.vloggers(followerId, idBefore, limit));
  }

  getCounts(accountId: number): Promise<FollowCounts> {
    return this.db.reader.run(() => this.counts(accountId));
  }

  private async followers(
    vloggerId: number,
    idBefore: number | undefined,
    limit: number,
  ): Promise<FollowersPage> {
    const account = await this.socials.findAccount(vloggerId);
    if (!account) throw SocialErrors.accountNotFound();
    const page = await this.socials.listFollowers(vloggerId, idBefore, limit);
    return {
      followers: await this.withAccounts(page, (s) => s.followerId),
      follower_count: account.followerCount,
    };
  }

  private async vloggers(
    followerId: number,
    idBefore: number | undefined,
    limit: number,
  ): Promise<VloggersPage> {
    const account = await this.socials.findAccount(followerId);
    if (!account) throw SocialErrors.accountNotFound();
    const page = await this.socials.listVloggers(followerId, idBefore, limit);
    return {
      vloggers: await this.withAccounts(page, (s) => s.vloggerId),
      vlogger_count: account.vloggerCount,
    };
  }

  /** Totals from the derived counters on `accounts`. */
  private async counts(accountId: number): Promise<FollowCounts> {
    const account = await this.socials.findAccount(accountId);
    if (!account) throw SocialErrors.accountNotFound();
    return { follower_count: account.followerCount, vlogger_count: account.vloggerCount };
  }

  private async withAccounts(
    page: SocialEntity[],
    other: (s: SocialEntity) => number,
  ): Promise<FollowAccountView[]> {
    const accounts = await this.socials.findAccounts(page.map(other));
    const out: FollowAccountView[] = [];
    for (const s of page) {
      const a = accounts.get(other(s));
      if (a) out.push(toFollowAccountView(a, s.id));
    }
    return out;
  }
}
