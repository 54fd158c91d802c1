/** Wire types from SPEC §3. Times: entities carry ISO strings, feed items unix seconds. */

export interface Account {
  id: number;
  username: string;
  avatar_url: string;
  bio: string;
}

export interface ListedAccount extends Account {
  follow_id: number;
}

export interface Profile {
  account: Account;
  video_count: number;
  total_likes: number;
  follower_count: number;
  vlogger_count: number;
}

export interface Video {
  id: number;
  author_id: number;
  username: string;
  title: string;
  description: string;
  play_url: string;
  cover_url: string;
  create_time: string;
  likes_count: number;
  comments_count: number;
  popularity: number;
}

export interface Comment {
  id: number;
  video_id: number;
  author_id: number;
  username: string;
  content: string;
  created_at: string;
}

export interface FeedVideoItem {
  id: number;
  author: { id: number; username: string };
  title: string;
  description: string;
  play_url: string;
  cover_url: string;
  create_time: number;
  likes_count: number;
  comments_count: number;
  is_liked: boolean;
}

export interface TimeFeedPage {
  video_list: FeedVideoItem[];
  next_time: number;
  next_id_before: number;
  has_more: boolean;
}

export interface LikesFeedPage {
  video_list: FeedVideoItem[];
  next_likes_count_before?: number;
  next_id_before?: number;
  has_more: boolean;
}

export interface HotFeedPage {
  video_list: FeedVideoItem[];
  as_of: number;
  next_offset: number;
  has_more: boolean;
}

export interface LoginResult {
  token: string;
  refresh_token: string;
  account_id: number;
  username: string;
}

export interface Message {
  message: string;
}

export interface ApiErrorBody {
  error: string;
  code: string;
  details?: { field: string; message: string }[];
}
