import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions, Database, loadConfigOrExit } from '@app/core';
import { SCHEMA } from '@app/schema';
import { formatRecountReport, recountAll } from './recount-all';

/** `npm run recount`: rebuilds the derived counters from the source rows and prints what changed. */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const ds = new DataSource(buildDataSourceOptions(config, SCHEMA, { statementTimeoutMs: 0 }));
  await ds.initialize();
  try {
    const report = await recountAll(new Database(ds, config));
    console.log(formatRecountReport(report));
    const total = Object.values<number>({ ...report }).reduce((a, b) => a + b, 0);
    console.log(total === 0 ? 'recount: every counter was exact' : `recount: ${total} rows fixed in total`);
  } finally {
    await ds.destroy();
  }
}

main().catch((err: unknown) => {
  console.error('recount failed:', err);
  process.exit(1);
});
