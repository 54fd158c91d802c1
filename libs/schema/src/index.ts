import type { SchemaDefinition } from '@app/core';
import { ENTITIES } from './entities';
import { MYSQL_MIGRATIONS, SQLITE_MIGRATIONS } from './migrations';

export { ENTITIES } from './entities';

/** Entities and per-dialect migrations, for `DatabaseModule.forRoot(SCHEMA)`. */
export const SCHEMA: SchemaDefinition = {
  entities: ENTITIES,
  migrations: { mysql: MYSQL_MIGRATIONS, sqlite: SQLITE_MIGRATIONS },
};
