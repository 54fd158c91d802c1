import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ByteRange, FileStorage, ObjectStat, StoredObject } from './file-storage';

const KEY = /^[a-z0-9]+(?:\/[a-z0-9]+)*\/[a-z0-9]+\.[a-z0-9]+$/;

/** Files under `<DATA_DIR>/uploads`, written to a temp name and renamed into place when complete. */
export class LocalFileStorage implements FileStorage {
  readonly root: string;

  constructor(dataDir: string) {
    this.root = resolve(dataDir, 'uploads');
  }

  /** Maps a key to a path inside the root, refusing anything that is not a plain generated key. */
  private pathOf(key: string): string {
    if (!KEY.test(key)) throw new Error(`invalid storage key: ${key}`);
    const p = resolve(this.root, ...key.split('/'));
    if (!p.startsWith(this.root + sep)) throw new Error(`storage key escapes the root: ${key}`);
    return p;
  }

  async put(key: string, body: Readable, _contentType: string): Promise<StoredObject> {
    const final = this.pathOf(key);
    await mkdir(dirname(final), { recursive: true });
    const tmp = join(dirname(final), `.tmp-${randomBytes(8).toString('hex')}`);
    try {
      await pipeline(body, createWriteStream(tmp, { flags: 'wx', mode: 0o644 }));
      await rename(tmp, final);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return { key, size: (await stat(final)).size };
  }

  async stat(key: string): Promise<ObjectStat | null> {
    let p: string;
    try {
      p = this.pathOf(key);
    } catch {
      return null;
    }
    try {
      const s = await stat(p);
      return s.isFile() ? { size: s.size, modifiedAt: s.mtime } : null;
    } catch {
      return null;
    }
  }

  open(key: string, range?: ByteRange): Promise<Readable> {
    const p = this.pathOf(key);
    return Promise.resolve(createReadStream(p, range ? { start: range.start, end: range.end } : {}));
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }
}
