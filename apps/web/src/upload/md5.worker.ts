import { digestParts } from './md5-parts';

/** Messages between md5-client.ts and this worker: hashing off the main thread keeps the page responsive. */
export interface DigestRequest {
  file: Blob;
  chunkSize: number;
}
export type DigestReply =
  | { type: 'progress'; bytes: number }
  | { type: 'done'; fileHash: string; partHashes: string[] }
  | { type: 'error'; message: string };

const reply = (m: DigestReply): void => postMessage(m);

onmessage = (e: MessageEvent<DigestRequest>) => {
  const { file, chunkSize } = e.data;
  digestParts(file, chunkSize, (bytes) => reply({ type: 'progress', bytes })).then(
    (d) => reply({ type: 'done', ...d }),
    (err: unknown) => reply({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
  );
};
