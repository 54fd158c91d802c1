import type { MigrationList } from '@app/core';
import { Initial1795676004987 as MysqlInitial } from './mysql/1795676004987-Initial';
import { ProcessedEventsByTime1795695405902 as MysqlProcessedEventsByTime } from './mysql/1795695405902-ProcessedEventsByTime';
import { Initial1795676004987 as SqliteInitial } from './sqlite/1795676004987-Initial';
import { ProcessedEventsByTime1795695405902 as SqliteProcessedEventsByTime } from './sqlite/1795695405902-ProcessedEventsByTime';

// Migrations in order. Add a new pair with `npm run migration:generate -- <Name>` and list both here.
export const MYSQL_MIGRATIONS: MigrationList = [MysqlInitial, MysqlProcessedEventsByTime];
export const SQLITE_MIGRATIONS: MigrationList = [SqliteInitial, SqliteProcessedEventsByTime];
