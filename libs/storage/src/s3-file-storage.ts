import { Logger, OnModuleDestroy } from '@nestjs/common';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { PassThrough, Readable } from 'node:stream';
import { DomainError, notFound } from '@app/core';
import type { StorageConfig } from '@app/core';
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
import { STORAGE_KEY, STORAGE_PREFIX } from './storage-keys';
import { storageUnavailable } from './storage.errors';

export type S3StorageOptions = Omit<Extract<StorageConfig, { type: 's3' }>, 'type'>;

const MiB = 1024 * 1024;
/**
 * A streamed upload is cut into parts of this size (S3's minimum), at most {@link S3_QUEUE_SIZE}
 * of them in flight, and the body is read only as fast as they are accepted: one upload holds
 * at most about (queue + 2) × part size in memory, whatever the size of the file. A body smaller
 * than one part is a single PutObject.
 */
export const S3_PART_SIZE = 5 * MiB;
export const S3_QUEUE_SIZE = 2;
const LIST_PAGE = 1000;

interface SdkError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

/** The object (or its bucket) is not there: HeadObject's bare 404, GetObject's NoSuchKey. */
function isMissing(err: unknown): boolean {
  const e = err as SdkError | null;
  return !!e && typeof e === 'object' && (e.$metadata?.httpStatusCode === 404 || e.name === 'NoSuchKey');
}

/** GetObject's answer to a range that starts past the end of the object. */
function isUnsatisfiable(err: unknown): boolean {
  const e = err as SdkError | null;
  return !!e && typeof e === 'object' && (e.$metadata?.httpStatusCode === 416 || e.name === 'InvalidRange');
}

/** The `Range` header GetObject is given for a request's range. */
function rangeHeader(range: RangeRequest): string {
  return 'suffix' in range ? `bytes=-${range.suffix}` : `bytes=${range.start}-${range.end ?? ''}`;
}

/** `bytes <first>-<last>/<size>` of a 206. */
const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+)$/;

/** Size, time and validator from an object's headers (HeadObject or GetObject). */
function statOf(size: number, lastModified: Date | undefined, etagHeader: string | undefined): ObjectStat {
  const modifiedAt = lastModified ?? new Date(0);
  const etag = (etagHeader ?? '').replace(/^W\//, '').replace(/"/g, '');
  return { size, modifiedAt, etag: etag || `${size.toString(16)}-${modifiedAt.getTime().toString(16)}` };
}

/**
 * Files in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, R2…) under the same keys as on
 * disk. Every failure to reach the store (refused, timed out, 5xx, denied) is a 503
 * `UNAVAILABLE` for the request that needed it, logged with its cause; the client reconnects by
 * itself when the store is back. Objects are written once under random keys and never
 * rewritten, so HeadObject's ETag and Last-Modified are the validators `/static` hands out.
 */
export class S3FileStorage implements FileStorage, OnModuleDestroy {
  private readonly logger = new Logger(S3FileStorage.name);
  readonly client: S3Client;
  readonly bucket: string;

  constructor(options: S3StorageOptions) {
    this.bucket = options.bucket;
    this.client = new S3Client({
      region: options.region,
      endpoint: options.endpoint ?? undefined,
      forcePathStyle: options.forcePathStyle,
      credentials: options.credentials ?? undefined,
      // S3-compatible servers do not all know the flexible checksums the SDK adds by default.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // A store that does not answer fails the request (503) instead of holding it.
      requestHandler: { connectionTimeout: 3000, requestTimeout: 30_000, throwOnRequestTimeout: true },
      maxAttempts: 3,
    });
  }

  async put(key: string, body: Readable, contentType: string): Promise<StoredObject> {
    assertKey(key);
    let size = 0;
    let bodyError: Error | undefined;
    async function* counted(): AsyncGenerator<Buffer> {
      try {
        for await (const chunk of body as AsyncIterable<Buffer>) {
          size += chunk.length;
          yield chunk;
        }
      } catch (err) {
        bodyError = err instanceof Error ? err : new Error(String(err));
        throw err;
      }
    }
    const source = Readable.from(counted(), { objectMode: false });
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: source, ContentType: contentType },
      partSize: S3_PART_SIZE,
      queueSize: S3_QUEUE_SIZE,
      // A failed multipart upload is aborted, so nothing is left under the key.
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (err) {
      source.destroy();
      body.destroy();
      // The body's own error (a size limit, a cut-off request) is the caller's to answer.
      if (bodyError !== undefined) throw bodyError;
      throw this.unavailable(`storing ${key}`, err);
    }
    return { key, size };
  }

  async stat(key: string): Promise<ObjectStat | null> {
    if (!STORAGE_KEY.test(key)) return null;
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return statOf(head.ContentLength ?? 0, head.LastModified, head.ETag);
    } catch (err) {
      if (isMissing(err)) return null;
      throw this.unavailable(`reading ${key}`, err);
    }
  }

  async open(key: string, range?: ByteRange): Promise<Readable> {
    assertKey(key);
    try {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
      );
      if (!(out.Body instanceof Readable)) throw new Error('GetObject answered without a body stream');
      return this.guarded(out.Body, key);
    } catch (err) {
      // Deleted between stat and open (its video was deleted meanwhile).
      if (isMissing(err)) throw notFound('file not found');
      throw this.unavailable(`reading ${key}`, err);
    }
  }

  /**
   * One GetObject: its headers give the stat (a 206's Content-Range the whole size). A range past
   * the end (for the size its 416 names) and a suffix range cost a HeadObject too.
   */
  async read(key: string, range?: RangeRequest): Promise<ObjectRead | null> {
    if (!STORAGE_KEY.test(key)) return null;
    const unsatisfiable = async (): Promise<ObjectRead | null> => {
      const stat = await this.stat(key);
      return stat && { stat, body: null, range: null };
    };
    if (range && 'suffix' in range) {
      // The last n bytes, resolved against the size first: S3-compatible stores do not all
      // honour a suffix range (s3rver answers the first n bytes). Players seldom ask for one.
      const stat = await this.stat(key);
      if (!stat) return null;
      const bounds = resolveRange(range, stat.size);
      if (bounds === 'unsatisfiable') return { stat, body: null, range: null };
      range = bounds;
    }
    let out: GetObjectCommandOutput;
    try {
      out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range && rangeHeader(range) }),
      );
    } catch (err) {
      if (isMissing(err)) return null;
      if (range && isUnsatisfiable(err)) return unsatisfiable();
      throw this.unavailable(`reading ${key}`, err);
    }
    if (!(out.Body instanceof Readable))
      throw this.unavailable(`reading ${key}`, new Error('no body stream'));
    const served = CONTENT_RANGE.exec(out.ContentRange ?? '');
    // A store that ignores the range sends the whole object (a 200): served as such.
    const size = served ? Number(served[3]) : (out.ContentLength ?? 0);
    return {
      stat: statOf(size, out.LastModified, out.ETag),
      body: this.guarded(out.Body, key),
      range: served ? { start: Number(served[1]), end: Number(served[2]) } : null,
    };
  }

  /** HeadBucket: the store answers and these credentials may list the bucket (deletePrefix needs that too). */
  async ping(signal: AbortSignal): Promise<StorageState> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: signal });
      return 'up';
    } catch {
      return 'down';
    }
  }

  async delete(key: string): Promise<void> {
    assertKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      if (isMissing(err)) return;
      throw this.unavailable(`deleting ${key}`, err);
    }
  }

  /**
   * ListObjectsV2 + DeleteObjects, a page of up to 1,000 keys at a time. A part still being
   * written there when this runs is deleted by its writer, which finds its session gone; a
   * multipart upload left incomplete by a crash is for the bucket's lifecycle rule
   * (AbortIncompleteMultipartUpload).
   */
  async deletePrefix(prefix: string): Promise<void> {
    if (!STORAGE_PREFIX.test(prefix)) throw new Error(`invalid storage prefix: ${prefix}`);
    try {
      let token: string | undefined;
      do {
        const page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            ContinuationToken: token,
            MaxKeys: LIST_PAGE,
          }),
        );
        const keys = (page.Contents ?? []).map((o) => o.Key).filter((k): k is string => !!k);
        if (keys.length > 0) {
          const out = await this.client.send(
            new DeleteObjectsCommand({
              Bucket: this.bucket,
              Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
            }),
          );
          const failed = out.Errors ?? [];
          if (failed.length > 0) {
            throw new Error(`${failed.length} objects not deleted (${failed[0].Key}: ${failed[0].Code})`);
          }
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw this.unavailable(`deleting ${prefix}`, err);
    }
  }

  /**
   * The object's bytes, with a failure of the store mid-way (reset, timeout) turned into a 503
   * for whoever reads them (a chunked upload's assembly reads parts this way).
   */
  private guarded(body: Readable, key: string): Readable {
    const out = new PassThrough();
    body.on('error', (err) => out.destroy(this.unavailable(`reading ${key}`, err)));
    // A reader that stops early (a client gone mid-download) releases the connection to the store.
    out.on('close', () => body.destroy());
    return body.pipe(out);
  }

  onModuleDestroy(): void {
    this.client.destroy();
  }

  private unavailable(what: string, err: unknown): DomainError {
    const e = err as SdkError & { message?: string };
    this.logger.warn(
      `${what} in bucket ${this.bucket} failed: ${e?.name ?? 'Error'}${e?.code ? ` (${e.code})` : ''}: ${e?.message ?? String(err)}`,
    );
    return storageUnavailable();
  }
}

function assertKey(key: string): void {
  if (!STORAGE_KEY.test(key)) throw new Error(`invalid storage key: ${key}`);
}
