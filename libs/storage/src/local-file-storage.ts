import { constants, createReadStream, createWriteStream, type Stats } from 'node:fs';
import { access, mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { resolveRange } from './file-storage';
import type {
  ByteRange,
  FileStorage,
  ObjectRead,
  ObjectStat,
  RangeRequest,
  StorageState,
  StoredObject,
} from './file-storage';
import { STORAGE_KEY as KEY, STORAGE_PREFIX as PREFIX } from './storage-keys';

/** Files under `<DATA_DIR>/uploads`, written to a temp name and renamed into place when complete. */
export class LocalFileStorage implements FileStorage {
  readonly root: string;

  constructor(dataDir: string) {
    this.root = resolve(dataDir, 'uploads');
  }

  /** Maps a key (or a `/`-terminated prefix) to a path inside the root, refusing anything else. */
  private pathOf(key: string, pattern = KEY): string {
    if (!pattern.test(key)) throw new Error(`invalid storage key: ${key}`);
    const p = resolve(this.root, ...key.split('/').filter(Boolean));
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
      return s.isFile() ? statOf(s) : null;
    } catch {
      return null;
    }
  }

  open(key: string, range?: ByteRange): Promise<Readable> {
    const p = this.pathOf(key);
    return Promise.resolve(createReadStream(p, range ? { start: range.start, end: range.end } : {}));
  }

  /**
   * Opens the file, then takes its stat from the open descriptor: a file deleted meanwhile is a
   * null, never a stream that fails after the headers went out.
   */
  async read(key: string, range?: RangeRequest): Promise<ObjectRead | null> {
    let p: string;
    try {
      p = this.pathOf(key);
    } catch {
      return null;
    }
    let handle: FileHandle;
    try {
      handle = await open(p, 'r');
    } catch (err) {
      if (MISSING.has((err as NodeJS.ErrnoException).code ?? '')) return null;
      throw err;
    }
    try {
      const s = await handle.stat();
      const bounds = s.isFile() && range ? resolveRange(range, s.size) : null;
      if (!s.isFile() || bounds === 'unsatisfiable') {
        await handle.close();
        return s.isFile() ? { stat: statOf(s), body: null, range: null } : null;
      }
      // The stream owns the descriptor from here and closes it when it ends or is destroyed.
      const body = handle.createReadStream(bounds ? { start: bounds.start, end: bounds.end } : {});
      return { stat: statOf(s), body, range: bounds };
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Up when uploads can be written: the uploads directory (or, before the first upload made
   * it, the nearest directory above it) is a directory this process may write to.
   */
  async ping(): Promise<StorageState> {
    for (let dir = this.root; ;) {
      try {
        if (!(await stat(dir)).isDirectory()) return 'down';
        await access(dir, constants.W_OK);
        return 'up';
      } catch (err) {
        const parent = dirname(dir);
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === dir) return 'down';
        dir = parent;
      }
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async deletePrefix(prefix: string): Promise<void> {
    await rm(this.pathOf(prefix, PREFIX), { recursive: true, force: true });
  }
}

/** What opening a key that names no file fails with. */
const MISSING = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);

function statOf(s: Stats): ObjectStat {
  return {
    size: s.size,
    modifiedAt: s.mtime,
    etag: `${s.size.toString(16)}-${Math.floor(s.mtimeMs).toString(16)}`,
  };
}
