import type { AccountEntity } from '@app/account';

/** `Account` of SPEC §3.1, as listed by the social routes (with the follow id as cursor). */
export interface FollowAccountView {
  id: number;
  username: string;
  avatar_url: string;
  bio: string;
  follow_id: number;
}

export interface FollowersPage {
  followers: FollowAccountView[];
  follower_count: number;
}

export interface VloggersPage {
  vloggers: FollowAccountView[];
  vlogger_count: number;
}

export interface FollowCounts {
  follower_count: number;
  vlogger_count: number;
}

export function toFollowAccountView(a: AccountEntity, followId: number): FollowAccountView {
  return {
    id: a.id,
    username: a.username,
    avatar_url: a.avatarUrl ?? '',
    bio: a.bio ?? '',
    follow_id: followId,
  };
}
