import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { type AppConfig, buildDataSourceOptions, Database, loadConfigOrExit } from '@app/core';
import { SCHEMA } from '@app/schema';
import { createCacheStore } from '@app/cache';
import { formatRecountReport, forgetRecountedVideos, recountAll } from './recount-all';

/** `npm run recount`: rebuilds the derived counters from the source rows and prints what changed. */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const ds = new DataSource(buildDataSourceOptions(config, SCHEMA, { statementTimeoutMs: 0 }));
  await ds.initialize();
  try {
    const fixed = new Set<number>();
    const db = new Database(ds, config);
    const report = await recountAll(db, fixed);
    console.log(formatRecountReport(report));
    await forgetInCaches(config, db, fixed);
    const total = Object.values<number>({ ...report }).reduce((a, b) => a + b, 0);
    console.log(total === 0 ? 'recount: every counter was exact' : `recount: ${total} rows fixed in total`);
  } finally {
    await ds.destroy();
  }
}

/** With Redis: the fixed videos' cached copies go (an embedded api's in-process ones it cannot reach). */
async function forgetInCaches(config: AppConfig, db: Database, fixed: Set<number>): Promise<void> {
  if (fixed.size === 0 || !(config.redisUrl || config.redisClusterNodes)) return;
  const store = createCacheStore(config);
  try {
    await store.ready(2000);
    console.log(
      (await forgetRecountedVideos(store, db, fixed))
        ? `recount: the cached copies of ${fixed.size} videos dropped`
        : 'recount: Redis refused; cached counts heal within their TTLs (details 5 min, the likes-count index 30 min)',
    );
  } finally {
    await store.close();
  }
}

main().catch((err: unknown) => {
  console.error('recount failed:', err);
  process.exit(1);
});
