import { Injectable } from '@nestjs/common';
import { NotificationErrors } from './notification.errors';
import { NotificationLive } from './notification-live';
import { NotificationRepository } from './notification.repository';
import { toNotificationView, type NotificationPage, type NotificationView } from './notification.types';

/** Most notifications a stream replays after `Last-Event-ID` (SPEC §8.4). */
export const MAX_REPLAY = 100;

/** The caller's notifications (SPEC §8.4): list, unread count, mark read. */
@Injectable()
export class NotificationService {
  constructor(
    private readonly repo: NotificationRepository,
    private readonly live: NotificationLive,
  ) {}

  /** Newest first, paged by id. */
  async list(me: number, idBefore: number | undefined, limit: number): Promise<NotificationPage> {
    const rows = await this.repo.list(me, idBefore, limit + 1);
    const page = rows.slice(0, limit);
    return {
      notifications: page.map(toNotificationView),
      next_id_before: page.length > 0 ? page[page.length - 1].id : (idBefore ?? 0),
      has_more: rows.length > limit,
    };
  }

  unreadCount(me: number): Promise<number> {
    return this.repo.unreadCount(me);
  }

  /**
   * One of the caller's notifications (404 when it is not theirs), or all of them (`id`
   * undefined). Their open streams, on every process, are told (`event: read`).
   */
  async markRead(me: number, id: number | undefined): Promise<void> {
    if (id === undefined) {
      await this.repo.markAllRead(me);
    } else {
      if ((await this.repo.recipientOf(id)) !== me) throw NotificationErrors.notFound();
      await this.repo.markRead(me, id);
    }
    await this.live.publish(me, { kind: 'read', id: id ?? 0 });
  }

  /** What a stream resuming after `afterId` missed: the newest {@link MAX_REPLAY}, oldest first. */
  async missed(me: number, afterId: number): Promise<NotificationView[]> {
    return (await this.repo.since(me, afterId, MAX_REPLAY)).map(toNotificationView);
  }
}
