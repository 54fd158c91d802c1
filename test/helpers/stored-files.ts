import { existsSync, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { TestApp } from './test-app';
import { PROFILES, type Profile } from './test-env';

export type StorageKind = 'local' | 's3';

/** Storages the upload suites run on; `TEST_STORAGE=local` (or `s3`) narrows a local run. */
const STORAGES: StorageKind[] = (process.env.TEST_STORAGE ?? 'local,s3')
  .split(',')
  .map((s) => s.trim())
  .filter((s): s is StorageKind => s === 'local' || s === 's3');

/**
 * `describe.each` rows `[label, profile, storage]` for the upload suites: each profile on local
 * disk (`embedded`, `full`), then once more on S3, a private s3rver (`embedded+s3`, `full+s3`).
 */
export const STORAGE_PROFILES: [string, Profile, StorageKind][] = STORAGES.flatMap((storage) =>
  PROFILES.map((p): [string, Profile, StorageKind] => [storage === 'local' ? p : `${p}+s3`, p, storage]),
);

/**
 * Every stored key under `prefix` (a folder ending in `/`, or '' for all), in key order: the
 * objects of the suite's bucket, or the files under DATA_DIR/uploads (temporaries included,
 * so a write left half-done shows).
 */
export async function storedKeys(t: TestApp, prefix = ''): Promise<string[]> {
  if (t.testEnv.s3) return t.testEnv.s3.keys(prefix);
  const root = join(t.config.dataDir, 'uploads');
  const dir = join(root, ...prefix.split('/').filter(Boolean));
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(root, join(d.parentPath, d.name)).split(sep).join('/'))
    .sort();
}

/** Whether the object behind `key` (or a `/static/<key>` URL) is stored. */
export async function isStored(t: TestApp, keyOrUrl: string): Promise<boolean> {
  const at = keyOrUrl.indexOf('/static/');
  const key = at >= 0 ? keyOrUrl.slice(at + '/static/'.length) : keyOrUrl;
  if (t.testEnv.s3) return t.testEnv.s3.has(key);
  return existsSync(join(t.config.dataDir, 'uploads', ...key.split('/')));
}
