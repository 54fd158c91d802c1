import { apiPost, newIdempotencyKey, uploadFile, type UploadHandle } from './http-client';
import type {
  Account,
  Comment,
  HotFeedPage,
  LikesFeedPage,
  ListedAccount,
  LoginResult,
  Message,
  Profile,
  TimeFeedPage,
  Video,
} from './types';

export const accountApi = {
  register: (username: string, password: string) =>
    apiPost<{ id: number; username: string }>('/account/register', { username, password }, { auth: false }),
  login: (username: string, password: string) =>
    apiPost<LoginResult>('/account/login', { username, password }, { auth: false }),
  refresh: (refresh_token: string) =>
    apiPost<Omit<LoginResult, 'refresh_token'>>('/account/refresh', { refresh_token }, { auth: false }),
  changePassword: (username: string, old_password: string, new_password: string) =>
    apiPost<Message>('/account/changePassword', { username, old_password, new_password }, { auth: false }),
  getProfile: (account_id: number) =>
    apiPost<Profile>('/account/getProfile', { account_id }, { auth: false }),
  rename: (new_username: string) => apiPost<{ token: string }>('/account/rename', { new_username }),
  logout: () => apiPost<Message>('/account/logout', {}),
  updateProfile: (patch: { avatar_url?: string; bio?: string }) =>
    apiPost<Account>('/account/updateProfile', patch),
  uploadAvatar: (file: Blob, name: string, onProgress: (f: number) => void) =>
    uploadFile<{ avatar_url: string }>('/account/uploadAvatar', file, name, onProgress),
};

export const videoApi = {
  publish: (v: { title: string; description: string; play_url: string; cover_url: string }, key?: string) =>
    apiPost<Video>('/video/publish', v, { idempotencyKey: key ?? newIdempotencyKey() }),
  listByAuthorID: (author_id: number, limit: number, id_before: number) =>
    apiPost<Video[]>('/video/listByAuthorID', { author_id, limit, id_before }, { auth: false }),
  getDetail: (id: number) => apiPost<Video>('/video/getDetail', { id }, { auth: false }),
  remove: (id: number) => apiPost<Message>('/video/delete', { id }),
  uploadVideo: (
    file: Blob,
    name: string,
    onProgress: (f: number) => void,
  ): UploadHandle<{ url: string; play_url: string }> =>
    uploadFile('/video/uploadVideo', file, name, onProgress),
  uploadCover: (
    file: Blob,
    name: string,
    onProgress: (f: number) => void,
  ): UploadHandle<{ url: string; cover_url: string }> =>
    uploadFile('/video/uploadCover', file, name, onProgress),
};

export const likeApi = {
  like: (video_id: number) => apiPost<Message>('/like/like', { video_id }),
  unlike: (video_id: number) => apiPost<Message>('/like/unlike', { video_id }),
  isLiked: (video_id: number) => apiPost<{ is_liked: boolean }>('/like/isLiked', { video_id }),
};

export const commentApi = {
  listAll: (video_id: number, limit: number, id_after: number) =>
    apiPost<Comment[]>('/comment/listAll', { video_id, limit, id_after }, { auth: false }),
  publish: (video_id: number, content: string) =>
    apiPost<Comment>('/comment/publish', { video_id, content }, { idempotencyKey: newIdempotencyKey() }),
  remove: (comment_id: number) => apiPost<Message>('/comment/delete', { comment_id }),
};

export const socialApi = {
  follow: (vlogger_id: number) => apiPost<Message>('/social/follow', { vlogger_id }),
  unfollow: (vlogger_id: number) => apiPost<Message>('/social/unfollow', { vlogger_id }),
  followers: (vlogger_id: number, limit: number, id_before: number) =>
    apiPost<{ followers: ListedAccount[]; follower_count: number }>('/social/getAllFollowers', {
      vlogger_id,
      limit,
      id_before,
    }),
  vloggers: (follower_id: number, limit: number, id_before: number) =>
    apiPost<{ vloggers: ListedAccount[]; vlogger_count: number }>('/social/getAllVloggers', {
      follower_id,
      limit,
      id_before,
    }),
};

export const feedApi = {
  latest: (limit: number, latest_time: number, id_before: number) =>
    apiPost<TimeFeedPage>('/feed/listLatest', { limit, latest_time, id_before }),
  following: (limit: number, latest_time: number, id_before: number) =>
    apiPost<TimeFeedPage>('/feed/listByFollowing', { limit, latest_time, id_before }),
  likesCount: (limit: number, cursor: { likes_count_before: number; id_before: number } | null) =>
    apiPost<LikesFeedPage>('/feed/listLikesCount', cursor ? { limit, ...cursor } : { limit }),
  popularity: (limit: number, as_of: number, offset: number) =>
    apiPost<HotFeedPage>('/feed/listByPopularity', { limit, as_of, offset }),
};
