/**
 * Public surface of the notification domain (SPEC §8.4).
 * - NotificationModule: the handlers (import it in the api and the worker), the service, the live channel.
 * - NotificationService: list, unreadCount, markRead, and a stream's replay (`missed`).
 * - NotificationLive: per-account live messages, in process or across processes by Redis pub/sub.
 */
export * from './notification.entity';
export * from './notification.types';
export * from './notification.errors';
export * from './mentions';
export * from './notification.repository';
export * from './notification-live';
export * from './notification.service';
export * from './notification.module';
