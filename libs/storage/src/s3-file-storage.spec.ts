import { Logger } from '@nestjs/common';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { DomainError, ErrorCode } from '@app/core';
import { S3FileStorage } from './s3-file-storage';

/** What the SDK throws: a service error with its HTTP status, or a socket error. */
const serviceError = (name: string, status: number) =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });

const KEY = 'videos/2026/11/0123456789abcdef0123456789abcdef.webm';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** Error mapping against a stubbed client; the behaviour against a real server is in test/e2e/upload-s3. */
describe('S3FileStorage', () => {
  let storage: S3FileStorage;
  let send: jest.SpyInstance<Promise<unknown>, [unknown, unknown?]>;

  beforeAll(() => {
    Logger.overrideLogger(false);
    // The SDK warns once per process that its 2027 releases will need Node 22: noise here.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  });
  afterAll(() => Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose', 'fatal']));
  beforeEach(() => {
    storage = new S3FileStorage({
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      bucket: 'media',
      credentials: { accessKeyId: 'id', secretAccessKey: 'secret' },
      forcePathStyle: true,
    });
    send = jest.spyOn(storage.client, 'send') as unknown as jest.SpyInstance<
      Promise<unknown>,
      [unknown, unknown?]
    >;
  });
  afterEach(() => storage.onModuleDestroy());

  it('stat: the object’s size, time and unquoted ETag; null when missing; 503 when the store is unreachable', async () => {
    const at = new Date('2026-11-30T10:00:00Z');
    send.mockResolvedValueOnce({ ContentLength: 42, LastModified: at, ETag: '"abc-2"' });
    expect(await storage.stat(KEY)).toEqual({ size: 42, modifiedAt: at, etag: 'abc-2' });
    expect((send.mock.calls[0][0] as HeadObjectCommand).input).toEqual({ Bucket: 'media', Key: KEY });

    send.mockRejectedValueOnce(serviceError('NotFound', 404));
    expect(await storage.stat(KEY)).toBeNull();
    expect(await storage.stat('../etc/passwd')).toBeNull();

    send.mockRejectedValueOnce(refused());
    const err = await caught(storage.stat(KEY));
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe(ErrorCode.Unavailable);
    send.mockRejectedValueOnce(serviceError('AccessDenied', 403));
    expect(((await caught(storage.stat(KEY))) as DomainError).code).toBe(ErrorCode.Unavailable);
  });

  it('open: passes the range to GetObject; a missing object is a 404; a store failing mid-stream is a 503 for the reader', async () => {
    send.mockResolvedValueOnce({ Body: Readable.from([Buffer.from('0123456789')]) });
    expect((await readAll(await storage.open(KEY, { start: 5, end: 14 }))).toString()).toBe('0123456789');
    expect((send.mock.calls[0][0] as GetObjectCommand).input).toMatchObject({
      Key: KEY,
      Range: 'bytes=5-14',
    });

    send.mockRejectedValueOnce(serviceError('NoSuchKey', 404));
    expect(((await caught(storage.open(KEY))) as DomainError).code).toBe(ErrorCode.NotFound);

    async function* cutOff(): AsyncGenerator<Buffer> {
      yield Buffer.from('first bytes');
      throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    }
    send.mockResolvedValueOnce({ Body: Readable.from(cutOff()) });
    const err = await caught(readAll(await storage.open(KEY)));
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe(ErrorCode.Unavailable);
  });

  it('read: one GetObject whose headers give the stat (a 206’s Content-Range the size); null when missing; a suffix range, or one past the end, costs a HeadObject for the size', async () => {
    const at = new Date('2026-11-30T10:00:00Z');
    send.mockResolvedValueOnce({
      Body: Readable.from([Buffer.from('0123456789')]),
      ContentLength: 10,
      LastModified: at,
      ETag: '"abc"',
    });
    const whole = await storage.read(KEY);
    expect(whole?.stat).toEqual({ size: 10, modifiedAt: at, etag: 'abc' });
    expect(whole?.range).toBeNull();
    expect((await readAll(whole!.body!)).toString()).toBe('0123456789');
    expect((send.mock.calls[0][0] as GetObjectCommand).input).toEqual({
      Bucket: 'media',
      Key: KEY,
      Range: undefined,
    });

    for (const [asked, header] of [
      [{ start: 5, end: 9 }, 'bytes=5-9'],
      [{ start: 5 }, 'bytes=5-'],
    ] as const) {
      send.mockClear();
      send.mockResolvedValueOnce({
        Body: Readable.from([Buffer.from('56789')]),
        ContentLength: 5,
        ContentRange: 'bytes 5-9/1000',
        LastModified: at,
        ETag: '"abc"',
      });
      const part = await storage.read(KEY, asked);
      expect((send.mock.calls[0][0] as GetObjectCommand).input.Range).toBe(header);
      expect(part?.stat.size).toBe(1000);
      expect(part?.range).toEqual({ start: 5, end: 9 });
    }

    // a suffix range is resolved against HeadObject's size (not every store honours one)
    send.mockClear();
    send.mockResolvedValueOnce({ ContentLength: 1000, LastModified: at, ETag: '"abc"' });
    send.mockResolvedValueOnce({
      Body: Readable.from([Buffer.from('56789')]),
      ContentLength: 5,
      ContentRange: 'bytes 995-999/1000',
      LastModified: at,
      ETag: '"abc"',
    });
    expect((await storage.read(KEY, { suffix: 5 }))?.range).toEqual({ start: 995, end: 999 });
    expect((send.mock.calls[1][0] as GetObjectCommand).input.Range).toBe('bytes=995-999');
    send.mockClear();
    send.mockResolvedValueOnce({ ContentLength: 1000, LastModified: at, ETag: '"abc"' });
    expect((await storage.read(KEY, { suffix: 0 }))?.body).toBeNull();
    expect(send).toHaveBeenCalledTimes(1);

    send.mockClear();
    send.mockRejectedValueOnce(serviceError('InvalidRange', 416));
    send.mockResolvedValueOnce({ ContentLength: 1000, LastModified: at, ETag: '"abc"' });
    expect(await storage.read(KEY, { start: 1000 })).toEqual({
      stat: { size: 1000, modifiedAt: at, etag: 'abc' },
      body: null,
      range: null,
    });
    expect(send.mock.calls.map((c) => (c[0] as object).constructor.name)).toEqual([
      'GetObjectCommand',
      'HeadObjectCommand',
    ]);

    send.mockRejectedValueOnce(serviceError('NoSuchKey', 404));
    expect(await storage.read(KEY)).toBeNull();
    send.mockRejectedValueOnce(refused());
    expect(((await caught(storage.read(KEY))) as DomainError).code).toBe(ErrorCode.Unavailable);
  });

  it('ping: HeadBucket, bounded by the caller’s signal; any failure is down', async () => {
    const signal = AbortSignal.timeout(1000);
    send.mockResolvedValueOnce({});
    expect(await storage.ping(signal)).toBe('up');
    expect((send.mock.calls[0][0] as HeadBucketCommand).input).toEqual({ Bucket: 'media' });
    expect(send.mock.calls[0][1]).toEqual({ abortSignal: signal });
    send.mockRejectedValueOnce(refused());
    expect(await storage.ping(signal)).toBe('down');
    send.mockRejectedValueOnce(serviceError('Forbidden', 403));
    expect(await storage.ping(signal)).toBe('down');
  });

  it('put: a small body is one PutObject with its content type; the body’s own error reaches the caller unchanged; a store failure is a 503', async () => {
    send.mockResolvedValueOnce({ ETag: '"x"' });
    expect(
      await storage.put(KEY, Readable.from([Buffer.from('abc'), Buffer.from('de')]), 'video/webm'),
    ).toEqual({
      key: KEY,
      size: 5,
    });
    const input = (send.mock.calls[0][0] as PutObjectCommand).input;
    expect(input).toMatchObject({ Bucket: 'media', Key: KEY, ContentType: 'video/webm' });

    const tooLarge = new DomainError(ErrorCode.PayloadTooLarge, 'file is larger than 10 MiB');
    async function* overLimit(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(1000);
      throw tooLarge;
    }
    send.mockClear();
    expect(await caught(storage.put(KEY, Readable.from(overLimit()), 'video/webm'))).toBe(tooLarge);
    expect(send).not.toHaveBeenCalled();

    send.mockRejectedValue(refused());
    const body = Readable.from([Buffer.alloc(100)]);
    const err = await caught(storage.put(KEY, body, 'video/webm'));
    expect((err as DomainError).code).toBe(ErrorCode.Unavailable);
    expect(body.destroyed).toBe(true);
  });

  it('delete: a missing object is no error; keys and prefixes that are not ours are refused before any request', async () => {
    send.mockResolvedValueOnce({});
    await storage.delete(KEY);
    expect((send.mock.calls[0][0] as DeleteObjectCommand).input).toEqual({ Bucket: 'media', Key: KEY });
    send.mockRejectedValueOnce(serviceError('NoSuchKey', 404));
    await storage.delete(KEY);
    send.mockClear();
    await expect(storage.delete('videos/../x.webm')).rejects.toThrow(/invalid storage key/);
    await expect(storage.deletePrefix('parts/abc')).rejects.toThrow(/invalid storage prefix/);
    await expect(storage.open('/etc/passwd')).rejects.toThrow(/invalid storage key/);
    expect(send).not.toHaveBeenCalled();
  });
});
