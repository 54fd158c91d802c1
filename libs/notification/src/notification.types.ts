import type { AccountView } from '@app/account';
import { toIso } from '@app/core';

export const NOTIFICATION_TYPES = ['like', 'comment', 'follow', 'mention'] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/** `Notification` of SPEC §8.4. */
export interface NotificationView {
  id: number;
  type: NotificationType;
  actor: AccountView;
  video_id: number;
  comment_id: number;
  content: string;
  is_read: boolean;
  created_at: string;
}

export interface NotificationPage {
  notifications: NotificationView[];
  next_id_before: number;
  has_more: boolean;
}

/** A stored notification with its recipient (the live channel routes by it). */
export interface NotificationRow {
  id: number;
  recipientId: number;
  type: NotificationType;
  actor: AccountView;
  videoId: number;
  commentId: number;
  content: string;
  isRead: boolean;
  createTime: number;
  eventId: string;
}

/** A notification to insert; the unique key is (recipient, actor, type, video, onceKey). */
export interface NewNotification {
  recipientId: number;
  type: NotificationType;
  actorId: number;
  videoId: number;
  commentId: number;
  onceKey: number;
  content: string;
  eventId: string;
  createTime: number;
}

export function toNotificationView(r: NotificationRow): NotificationView {
  return {
    id: r.id,
    type: r.type,
    actor: r.actor,
    video_id: r.videoId,
    comment_id: r.commentId,
    content: r.content,
    is_read: r.isRead,
    created_at: toIso(r.createTime),
  };
}

/** SPEC §8.4: `content` is the comment's first 100 characters (code points, not UTF-16 units). */
export const CONTENT_CHARS = 100;

export function excerpt(text: string): string {
  const chars = Array.from(text);
  return chars.length <= CONTENT_CHARS ? text : chars.slice(0, CONTENT_CHARS).join('');
}
