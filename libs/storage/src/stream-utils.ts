import type { Hash } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Reads chunks until `n` bytes are known (or the stream ends), keeping the iterator for the rest. */
export async function readHead(
  it: AsyncIterator<Buffer>,
  n: number,
): Promise<{ chunks: Buffer[]; ended: boolean }> {
  const chunks: Buffer[] = [];
  let len = 0;
  while (len < n) {
    const r = await it.next();
    if (r.done) return { chunks, ended: true };
    const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
    chunks.push(chunk);
    len += chunk.length;
  }
  return { chunks, ended: false };
}

/** The chunks already read by {@link readHead}, then the rest of the iterator (closed when done). */
export async function* resume(
  head: { chunks: Buffer[]; ended: boolean },
  it: AsyncIterator<Buffer>,
): AsyncGenerator<Buffer> {
  try {
    yield* head.chunks;
    if (head.ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  } finally {
    await it.return?.();
  }
}

export interface Meter {
  bytes: number;
  hash?: Hash;
}

/** Re-yields `source`, counting (and hashing) as it flows; throws `over()` as soon as `limit` is passed. */
export async function* metered(
  source: AsyncIterable<Buffer>,
  limit: number,
  over: () => Error,
  meter: Meter,
): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    meter.bytes += chunk.length;
    if (meter.bytes > limit) throw over();
    meter.hash?.update(chunk);
    yield chunk;
  }
}

/** Reads a stream to its end and throws the bytes away. */
export async function discard(source: NodeJS.ReadableStream): Promise<void> {
  await pipeline(source, new Writable({ write: (_chunk, _enc, done) => done() }));
}
