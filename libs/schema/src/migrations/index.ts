import type { MigrationList } from '@app/core';
import { Initial1795676004987 as MysqlInitial } from './mysql/1795676004987-Initial';
import { ProcessedEventsByTime1795695405902 as MysqlProcessedEventsByTime } from './mysql/1795695405902-ProcessedEventsByTime';
import { MessagesAndTags1796050490565 as MysqlMessagesAndTags } from './mysql/1796050490565-MessagesAndTags';
import { ChunkedUploads1796050714652 as MysqlChunkedUploads } from './mysql/1796050714652-ChunkedUploads';
import { UsernameSkeleton1796050966839 as MysqlUsernameSkeleton } from './mysql/1796050966839-UsernameSkeleton';
import { Leases1796052782781 as MysqlLeases } from './mysql/1796052782781-Leases';
import { Notifications1796053255125 as MysqlNotifications } from './mysql/1796053255125-Notifications';
import { Initial1795676004987 as SqliteInitial } from './sqlite/1795676004987-Initial';
import { ProcessedEventsByTime1795695405902 as SqliteProcessedEventsByTime } from './sqlite/1795695405902-ProcessedEventsByTime';
import { MessagesAndTags1796050490565 as SqliteMessagesAndTags } from './sqlite/1796050490565-MessagesAndTags';
import { ChunkedUploads1796050714652 as SqliteChunkedUploads } from './sqlite/1796050714652-ChunkedUploads';
import { UsernameSkeleton1796050966839 as SqliteUsernameSkeleton } from './sqlite/1796050966839-UsernameSkeleton';
import { Leases1796052782781 as SqliteLeases } from './sqlite/1796052782781-Leases';
import { Notifications1796053255125 as SqliteNotifications } from './sqlite/1796053255125-Notifications';

// Migrations in order. Add a new pair with `npm run migration:generate -- <Name>` and list both here.
export const MYSQL_MIGRATIONS: MigrationList = [
  MysqlInitial,
  MysqlProcessedEventsByTime,
  MysqlMessagesAndTags,
  MysqlChunkedUploads,
  MysqlUsernameSkeleton,
  MysqlLeases,
  MysqlNotifications,
];
export const SQLITE_MIGRATIONS: MigrationList = [
  SqliteInitial,
  SqliteProcessedEventsByTime,
  SqliteMessagesAndTags,
  SqliteChunkedUploads,
  SqliteUsernameSkeleton,
  SqliteLeases,
  SqliteNotifications,
];
