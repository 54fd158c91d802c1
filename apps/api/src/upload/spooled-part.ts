import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DomainError } from '@app/core';

/** A multipart file kept on local disk until the fields sent after it have been read. */
export interface SpooledPart {
  /** Its bytes, from the start (each call a new stream). */
  read(): Readable;
  /** Deletes it (idempotent). */
  remove(): Promise<void>;
}

/**
 * Writes `file` (a multipart file stream, its size already bounded by busboy's `fileSize` limit) to
 * a new temporary directory. A file that busboy cut at that limit (`truncated`) is `tooLarge()`;
 * on any failure nothing is left behind.
 */
export async function spoolPart(
  file: Readable & { truncated?: boolean },
  tooLarge: () => DomainError,
): Promise<SpooledPart> {
  const dir = await mkdtemp(join(tmpdir(), 'fsv-part-'));
  const remove = (): Promise<void> => rm(dir, { recursive: true, force: true });
  const path = join(dir, 'part');
  try {
    await pipeline(file, createWriteStream(path));
    if (file.truncated) throw tooLarge();
  } catch (err) {
    await remove();
    throw err;
  }
  return { read: () => createReadStream(path), remove };
}
