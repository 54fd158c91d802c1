import { digestParts, type FileDigest } from './md5-parts';
import type { DigestReply, DigestRequest } from './md5.worker';

function inWorker(
  file: Blob,
  chunkSize: number,
  onProgress: (bytes: number) => void,
  signal: AbortSignal,
): Promise<FileDigest> {
  const worker = new Worker(new URL('./md5.worker.ts', import.meta.url), { type: 'module' });
  return new Promise<FileDigest>((resolve, reject) => {
    const stop = () => {
      worker.terminate();
      signal.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      stop();
      reject(new DOMException('hashing cancelled', 'AbortError'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    worker.onmessage = (e: MessageEvent<DigestReply>) => {
      const m = e.data;
      if (m.type === 'progress') onProgress(m.bytes);
      else if (m.type === 'done') {
        stop();
        resolve({ fileHash: m.fileHash, partHashes: m.partHashes });
      } else {
        stop();
        reject(new Error(m.message));
      }
    };
    worker.onerror = (e) => {
      stop();
      reject(new Error(e.message || 'the hashing worker failed'));
    };
    worker.postMessage({ file, chunkSize } satisfies DigestRequest);
  });
}

/**
 * MD5 of a file and of each of its parts, in a Web Worker (on the page itself where workers are
 * unavailable). Rejects with an AbortError when `signal` fires.
 */
export async function digestFile(
  file: Blob,
  chunkSize: number,
  onProgress: (bytes: number) => void,
  signal: AbortSignal,
): Promise<FileDigest> {
  if (signal.aborted) throw new DOMException('hashing cancelled', 'AbortError');
  if (typeof Worker === 'undefined') return digestParts(file, chunkSize, onProgress, () => signal.aborted);
  try {
    return await inWorker(file, chunkSize, onProgress, signal);
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    // A worker that cannot start (an old browser, a blocked script): hash here instead.
    return digestParts(file, chunkSize, onProgress, () => signal.aborted);
  }
}
