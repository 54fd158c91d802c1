import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintAsNumber } from '@app/core';
import type { NotificationType } from './notification.types';

/**
 * A notification (SPEC §8.4), derived from a like, comment or follow event by
 * {@link NotificationEventsController}. `uq_notifications_once` is the once-per-(actor, target)
 * rule: `once_key` is 0 for `like` (target: the video), `follow` (the account) and `mention`
 * (the video the comment is on), and the comment's id for `comment` (every comment notifies).
 * `event_id` is the event that created the row: after a multi-row `INSERT IGNORE` it tells the
 * rows this batch inserted from those that were already there (no read-back of generated ids).
 */
@Entity('notifications')
@Index('ix_notifications_recipient', ['recipientId', 'id'])
@Index('ix_notifications_unread', ['recipientId', 'isRead'])
@Index('ix_notifications_video', ['videoId', 'commentId'])
@Index('uq_notifications_once', ['recipientId', 'actorId', 'type', 'videoId', 'onceKey'], { unique: true })
export class NotificationEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ name: 'recipient_id', type: 'int' })
  recipientId!: number;

  @Column({ type: 'varchar', length: 16 })
  type!: NotificationType;

  @Column({ name: 'actor_id', type: 'int' })
  actorId!: number;

  /** 0 for `follow`. */
  @Column({ name: 'video_id', type: 'int', default: 0 })
  videoId!: number;

  /** The comment of a `comment` or `mention`, else 0. */
  @Column({ name: 'comment_id', type: 'int', default: 0 })
  commentId!: number;

  @Column({ name: 'once_key', type: 'int', default: 0 })
  onceKey!: number;

  /** The comment's first 100 characters for `comment` and `mention`, else ''. */
  @Column({ type: 'varchar', length: 100, default: '' })
  content!: string;

  @Column({ name: 'is_read', type: 'boolean', default: false })
  isRead!: boolean;

  @Column({ name: 'event_id', type: 'varchar', length: 36 })
  eventId!: string;

  /** The time of the action (the event's `ts`), unix ms. */
  @Column({ name: 'create_time', type: 'bigint', transformer: bigintAsNumber })
  createTime!: number;
}
