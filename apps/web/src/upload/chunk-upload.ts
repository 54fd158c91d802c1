import { chunkApi } from '../api/endpoints';
import { ApiError } from '../api/http-client';
import type { ChunkCompleteResult } from '../api/types';
import { digestFile } from './md5-client';
import { dropPending, fileKey, findPending, savePending, type PendingUpload } from './pending-uploads';

/** SPEC §8.1: the part size this client sends, and how many parts are in flight at once. */
export const PART_SIZE = 5 * 1024 * 1024;
export const PARALLEL_PARTS = 3;
/** Tries per part before the upload stops (time spent offline does not count). */
const MAX_ATTEMPTS = 6;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 8000;

export type ChunkPhase = 'hashing' | 'uploading' | 'waiting' | 'finishing';
type OwnPhase = Exclude<ChunkPhase, 'waiting'>;

export interface ChunkProgress {
  phase: ChunkPhase;
  /** Bytes hashed (hashing) or stored on the server, in-flight parts included (the other phases). */
  loaded: number;
  total: number;
  totalParts: number;
  /** Parts the server already had when this run started (a resumed upload). */
  resumedParts: number;
  /** Parts waiting to be tried again after a failure. */
  retryingParts: number;
}

export interface ChunkUploadOptions {
  signal: AbortSignal;
  onProgress: (p: ChunkProgress) => void;
  /** Whose upload this is, so one account's unfinished uploads are not offered to another. */
  owner: number | null;
}

const abortError = () => new DOMException('upload cancelled', 'AbortError');

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError());
    const t = window.setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      window.clearTimeout(t);
      reject(abortError());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function waitForOnline(signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError());
    if (navigator.onLine) return resolve();
    const done = () => {
      window.removeEventListener('online', done);
      signal.removeEventListener('abort', onAbort);
      resolve();
    };
    const onAbort = () => {
      window.removeEventListener('online', done);
      reject(abortError());
    };
    window.addEventListener('online', done);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Worth another try: the network, a timeout, a rate limit or a server-side hiccup. */
function isTransient(e: unknown): boolean {
  if (!(e instanceof ApiError)) return false;
  if (e.status === 0) return e.code === 'NETWORK';
  return e.status === 408 || e.status === 429 || e.status >= 500;
}

function backoffMs(attempt: number, e: unknown): number {
  if (e instanceof ApiError && e.retryAfter) return Math.min(60_000, e.retryAfter * 1000);
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

/**
 * Runs `fn` until it succeeds: transient failures are retried with exponential backoff (or the
 * server's `Retry-After`), up to MAX_ATTEMPTS; while the browser is offline it waits for the
 * connection without spending attempts.
 */
async function withRetry<T>(
  fn: () => Promise<T>,
  signal: AbortSignal,
  onWaiting: (waiting: boolean) => void,
  onBackoff: (backingOff: boolean) => void = () => undefined,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (signal.aborted) throw abortError();
      if (!isTransient(e)) throw e;
      if (!navigator.onLine) {
        onWaiting(true);
        try {
          await waitForOnline(signal);
        } finally {
          onWaiting(false);
        }
        attempt = 0;
        continue;
      }
      if (attempt >= MAX_ATTEMPTS) throw e;
      onBackoff(true);
      try {
        await sleep(backoffMs(attempt, e), signal);
      } finally {
        onBackoff(false);
      }
    }
  }
}

/** The `missing` indices of a premature `complete` (SPEC §8.1), or null for any other error. */
function missingParts(e: unknown): number[] | null {
  if (!(e instanceof ApiError) || e.status !== 400 || !e.body || typeof e.body !== 'object') return null;
  const missing = (e.body as { missing?: unknown }).missing;
  return Array.isArray(missing) && missing.every((i) => Number.isInteger(i)) ? (missing as number[]) : null;
}

function partRange(index: number, size: number): [number, number] {
  const start = index * PART_SIZE;
  return [start, Math.min(size, start + PART_SIZE)];
}

/**
 * Uploads a video through `/video/chunk/*` (SPEC §8.1): MD5 of the file and of each 5 MiB part
 * (in a worker, one part in memory at a time), `init` (which, for a file the server has seen
 * before, returns the parts it already stores: they are skipped), the missing parts three at a
 * time, each retried on its own, then `complete`. Resolves to the `{url, play_url}` of the file.
 */
export async function uploadInChunks(
  file: Blob,
  name: string,
  opts: ChunkUploadOptions,
): Promise<ChunkCompleteResult> {
  const { signal, owner } = opts;
  const size = file.size;
  const totalParts = Math.max(1, Math.ceil(size / PART_SIZE));
  const key = fileKey(file, name);
  let resumedParts = 0;
  let phase: OwnPhase = 'hashing';
  let stored = 0;
  const inFlight = new Map<number, number>();
  let retryingParts = 0;
  // Requests waiting for the browser to come back online (several parts may wait at once).
  let offlineWaits = 0;
  const report = (loaded?: number) => {
    let sent = stored;
    for (const b of inFlight.values()) sent += b;
    opts.onProgress({
      phase: offlineWaits > 0 ? 'waiting' : phase,
      loaded: loaded ?? Math.min(size, sent),
      total: size,
      totalParts,
      resumedParts,
      retryingParts,
    });
  };
  const setWaiting = (waiting: boolean) => {
    offlineWaits += waiting ? 1 : -1;
    report();
  };

  let pending: PendingUpload | null = findPending(key, owner, PART_SIZE);
  if (!pending || pending.partHashes.length !== totalParts) {
    report(0);
    const digest = await digestFile(file, PART_SIZE, (bytes) => report(bytes), signal);
    pending = {
      key,
      owner,
      name,
      size,
      lastModified: file instanceof File ? file.lastModified : 0,
      partSize: PART_SIZE,
      ...digest,
      savedAt: Date.now(),
    };
  }
  const { fileHash, partHashes } = pending;
  savePending({ ...pending, savedAt: Date.now() });

  phase = 'uploading';
  report(0);
  const init = () =>
    withRetry(
      () =>
        chunkApi.init(
          {
            filename: name.slice(0, 255) || 'video',
            file_size: size,
            chunk_size: PART_SIZE,
            total_chunks: totalParts,
            file_hash: fileHash,
          },
          signal,
        ),
      signal,
      setWaiting,
    );

  let session = await init();
  const uploadParts = async (uploadId: string, indices: number[]): Promise<void> => {
    const queue = [...indices];
    // One failed part stops the others: their requests are aborted through this controller.
    const run = new AbortController();
    const stopRun = () => run.abort();
    signal.addEventListener('abort', stopRun, { once: true });
    const worker = async (): Promise<void> => {
      for (let index = queue.shift(); index !== undefined; index = queue.shift()) {
        const [start, end] = partRange(index, size);
        const part = file.slice(start, end);
        const i = index;
        await withRetry(
          () => {
            inFlight.set(i, 0);
            return chunkApi.upload({ upload_id: uploadId, chunk_index: i, chunk_hash: partHashes[i] }, part, {
              signal: run.signal,
              onProgress: (bytes) => {
                inFlight.set(i, bytes);
                report();
              },
            });
          },
          run.signal,
          setWaiting,
          (backingOff) => {
            retryingParts += backingOff ? 1 : -1;
            report();
          },
        ).finally(() => inFlight.delete(i));
        stored += end - start;
        report();
      }
    };
    try {
      await Promise.all(
        Array.from({ length: Math.min(PARALLEL_PARTS, queue.length) }, () =>
          worker().catch((e: unknown) => {
            run.abort();
            throw e;
          }),
        ),
      );
    } finally {
      signal.removeEventListener('abort', stopRun);
    }
    if (signal.aborted) throw abortError();
  };

  try {
    for (let round = 0; ; round++) {
      const have = new Set(session.uploaded_chunks);
      resumedParts = round === 0 ? have.size : resumedParts;
      stored = 0;
      for (const i of have) {
        const [start, end] = partRange(i, size);
        if (i >= 0 && i < totalParts) stored += end - start;
      }
      report();
      const todo = Array.from({ length: totalParts }, (_, i) => i).filter((i) => !have.has(i));
      try {
        await uploadParts(session.upload_id, todo);
        phase = 'finishing';
        report();
        const done = await withRetry(() => chunkApi.complete(session.upload_id, signal), signal, setWaiting);
        dropPending(key, owner);
        return done;
      } catch (e) {
        if (signal.aborted || round >= 2) throw e;
        phase = 'uploading';
        const missing = missingParts(e);
        if (missing) {
          // The server lost track of some parts (or another tab raced us): ask it what it has.
          const s = await withRetry(() => chunkApi.status(session.upload_id, signal), signal, setWaiting);
          session = { upload_id: s.upload_id, uploaded_chunks: s.uploaded_chunks };
        } else if (e instanceof ApiError && e.status === 404) {
          // The session expired (24 h after its last part): start a new one.
          session = await init();
        } else {
          throw e;
        }
      }
    }
  } catch (e) {
    // A hash or size mismatch means the file changed since it was hashed (hash it again next
    // time); a 415 means it is no video: either way, nothing is left to resume.
    if (e instanceof ApiError && ((e.status === 400 && !missingParts(e)) || e.status === 415)) {
      dropPending(key, owner);
    }
    throw e;
  }
}
