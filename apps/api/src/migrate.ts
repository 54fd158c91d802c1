import 'reflect-metadata';
import { loadConfigOrExit } from '@app/core';
import { migrate } from './app.factory';

/**
 * `npm run migrate`: runs the pending migrations of the configured database (the api also does
 * at startup, under the same database lock), and prints what it applied. A deploy step for
 * setups that migrate before starting new api replicas.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const applied = await migrate(config);
  console.log(
    applied.length > 0 ? `migrate: applied ${applied.join(', ')}` : 'migrate: the schema is up to date',
  );
}

main().catch((err: unknown) => {
  console.error('migrate failed:', err instanceof Error ? err.message : err);
  process.exit(1);
});
