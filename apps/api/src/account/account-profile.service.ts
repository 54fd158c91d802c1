import { Injectable } from '@nestjs/common';
import { AccountMessages, AccountService } from '@app/account';
import { Database, notFound } from '@app/core';
import type { ProfileResponse } from './dto/account.dto';

/**
 * getProfile: the account plus counts from `videos`. Lives in the app because libs/account
 * sits below libs/video; it reads the table with one raw query.
 */
@Injectable()
export class AccountProfileService {
  constructor(
    private readonly accounts: AccountService,
    private readonly db: Database,
  ) {}

  async getProfile(accountId: number): Promise<ProfileResponse> {
    const a = await this.accounts.findById(accountId);
    if (!a) throw notFound(AccountMessages.accountNotFound);
    const [row] = await this.db.query<{ c: number | string; l: number | string | null }>(
      'SELECT COUNT(*) AS c, COALESCE(SUM(likes_count), 0) AS l FROM videos WHERE author_id = ?',
      [accountId],
    );
    return {
      account: { id: a.id, username: a.username, avatar_url: a.avatarUrl ?? '', bio: a.bio ?? '' },
      video_count: Number(row?.c ?? 0),
      total_likes: Number(row?.l ?? 0),
      follower_count: a.followerCount,
      vlogger_count: a.vloggerCount,
    };
  }
}
