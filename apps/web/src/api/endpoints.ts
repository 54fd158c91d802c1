import { apiPost, newIdempotencyKey, postMultipart, type MultipartOptions } from './http-client';
import type { RequestOf, ResponseOf } from './types';

export const accountApi = {
  register: (username: string, password: string) =>
    apiPost('/account/register', { username, password }, { auth: false }),
  login: (username: string, password: string) =>
    apiPost('/account/login', { username, password }, { auth: false }),
  refresh: (refresh_token: string) => apiPost('/account/refresh', { refresh_token }, { auth: false }),
  changePassword: (username: string, old_password: string, new_password: string) =>
    apiPost('/account/changePassword', { username, old_password, new_password }, { auth: false }),
  getProfile: (account_id: number) => apiPost('/account/getProfile', { account_id }, { auth: false }),
  findByUsername: (username: string) => apiPost('/account/findByUsername', { username }, { auth: false }),
  rename: (new_username: string) => apiPost('/account/rename', { new_username }),
  logout: () => apiPost('/account/logout', {}),
  updateProfile: (patch: RequestOf<'/account/updateProfile'>) => apiPost('/account/updateProfile', patch),
  uploadAvatar: (file: Blob, name: string, opts: MultipartOptions) =>
    postMultipart<ResponseOf<'/account/uploadAvatar'>>('/account/uploadAvatar', {}, file, name, opts),
};

export const videoApi = {
  publish: (v: RequestOf<'/video/publish'>, key?: string) =>
    apiPost('/video/publish', v, { idempotencyKey: key ?? newIdempotencyKey() }),
  listByAuthorID: (author_id: number, limit: number, id_before: number) =>
    apiPost('/video/listByAuthorID', { author_id, limit, id_before }, { auth: false }),
  getDetail: (id: number) => apiPost('/video/getDetail', { id }, { auth: false }),
  remove: (id: number) => apiPost('/video/delete', { id }),
  uploadCover: (file: Blob, name: string, opts: MultipartOptions) =>
    postMultipart<ResponseOf<'/video/uploadCover'>>('/video/uploadCover', {}, file, name, opts),
};

/** SPEC §8.1: resumable chunked upload, the only way this client uploads a video (see chunk-upload.ts). */
export const chunkApi = {
  init: (body: RequestOf<'/video/chunk/init'>, signal?: AbortSignal) =>
    apiPost('/video/chunk/init', body, { signal }),
  upload: (
    fields: { upload_id: string; chunk_index: number; chunk_hash: string },
    part: Blob,
    opts: MultipartOptions,
  ) =>
    postMultipart<ResponseOf<'/video/chunk/upload'>>(
      '/video/chunk/upload',
      {
        upload_id: fields.upload_id,
        chunk_index: String(fields.chunk_index),
        chunk_hash: fields.chunk_hash,
      },
      part,
      `part-${fields.chunk_index}`,
      opts,
    ),
  status: (upload_id: string, signal?: AbortSignal) =>
    apiPost('/video/chunk/status', { upload_id }, { signal }),
  complete: (upload_id: string, signal?: AbortSignal) =>
    apiPost('/video/chunk/complete', { upload_id }, { signal }),
};

export const likeApi = {
  like: (video_id: number) => apiPost('/like/like', { video_id }),
  unlike: (video_id: number) => apiPost('/like/unlike', { video_id }),
  isLiked: (video_id: number) => apiPost('/like/isLiked', { video_id }),
};

export const commentApi = {
  listAll: (video_id: number, limit: number, id_after: number) =>
    apiPost('/comment/listAll', { video_id, limit, id_after }, { auth: false }),
  publish: (video_id: number, content: string) =>
    apiPost('/comment/publish', { video_id, content }, { idempotencyKey: newIdempotencyKey() }),
  remove: (comment_id: number) => apiPost('/comment/delete', { comment_id }),
};

export const socialApi = {
  follow: (vlogger_id: number) => apiPost('/social/follow', { vlogger_id }),
  unfollow: (vlogger_id: number) => apiPost('/social/unfollow', { vlogger_id }),
  followers: (vlogger_id: number, limit: number, id_before: number) =>
    apiPost('/social/getAllFollowers', { vlogger_id, limit, id_before }),
  vloggers: (follower_id: number, limit: number, id_before: number) =>
    apiPost('/social/getAllVloggers', { follower_id, limit, id_before }),
};

export const feedApi = {
  latest: (limit: number, latest_time: number, id_before: number) =>
    apiPost('/feed/listLatest', { limit, latest_time, id_before }),
  following: (limit: number, latest_time: number, id_before: number) =>
    apiPost('/feed/listByFollowing', { limit, latest_time, id_before }),
  likesCount: (limit: number, cursor: { likes_count_before: number; id_before: number } | null) =>
    apiPost('/feed/listLikesCount', cursor ? { limit, ...cursor } : { limit }),
  popularity: (limit: number, as_of: number, offset: number) =>
    apiPost('/feed/listByPopularity', { limit, as_of, offset }),
  byTag: (tag_name: string, limit: number, latest_time: number, id_before: number) =>
    apiPost('/feed/listByTag', { tag_name, limit, latest_time, id_before }),
};

/** SPEC §8.2. */
export const messageApi = {
  send: (to_id: number, content: string, key: string) =>
    apiPost('/message/send', { to_id, content }, { idempotencyKey: key }),
  list: (peer_id: number, limit: number, id_before: number) =>
    apiPost('/message/list', { peer_id, limit, id_before }),
  conversations: (limit: number, id_before: number) =>
    apiPost('/message/conversations', { limit, id_before }),
  markRead: (peer_id: number) => apiPost('/message/markRead', { peer_id }),
};

/** SPEC §8.4; the live stream is opened by stores/notification-store.ts. */
export const notificationApi = {
  list: (limit: number, id_before: number) => apiPost('/notification/list', { limit, id_before }),
  unreadCount: () => apiPost('/notification/unreadCount', {}),
  markRead: (id?: number) => apiPost('/notification/markRead', id === undefined ? {} : { id }),
};
