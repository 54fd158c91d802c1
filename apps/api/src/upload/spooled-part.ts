import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DomainError } from '@app/core';
import { wholePart } from './multipart-errors';

/** A multipart file kept on local disk until the fields sent after it have been read. */
export interface SpooledPart {
  /** Its bytes, from the start (each call a new stream). */
  read(): Readable;
  /** Deletes it (idempotent). */
  remove(): Promise<void>;
}

/**
 * Writes `file` (a multipart file stream, its size already bounded by busboy's `fileSize` limit) to
 * a new temporary directory. A file that busboy cut at that limit (`truncated`) is `tooLarge()`, one
 * torn down before its end a premature close ({@link wholePart}); on any failure nothing is left
 * behind.
 */
export async function spoolPart(
  file: Readable & { truncated?: boolean },
  tooLarge: () => DomainError,
): Promise<SpooledPart> {
  const dir = await mkdtemp(join(tmpdir(), 'fsv-part-'));
  const remove = (): Promise<void> => rm(dir, { recursive: true, force: true });
  const path = join(dir, 'part');
  try {
    await pipeline(wholePart(file), createWriteStream(path));
    if (file.truncated) throw tooLarge();
  } catch (err) {
    await remove();
    throw err;
  }
  return { read: () => createReadStream(path), remove };
}

/**
 * Bounds how many parts are kept on disk at once, per account and in all (each up to the largest
 * chunk_size): a client that sends the file before its fields costs the api's disk until they
 * arrive, so a few such uploads at a time are taken, and the rest are asked to wait (429).
 */
export class SpoolSlots {
  private readonly byAccount = new Map<number, number>();
  private total = 0;

  constructor(
    readonly perAccount: number,
    readonly overall: number,
  ) {}

  /** Takes a slot for `accountId`; false when its share or the whole is in use. */
  take(accountId: number): boolean {
    const mine = this.byAccount.get(accountId) ?? 0;
    if (mine >= this.perAccount || this.total >= this.overall) return false;
    this.byAccount.set(accountId, mine + 1);
    this.total++;
    return true;
  }

  /** Gives back a slot {@link take} gave `accountId`. */
  give(accountId: number): void {
    const mine = this.byAccount.get(accountId) ?? 0;
    if (mine <= 0) return;
    if (mine === 1) this.byAccount.delete(accountId);
    else this.byAccount.set(accountId, mine - 1);
    this.total--;
  }
}
