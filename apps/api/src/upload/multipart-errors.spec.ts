import Busboy from '@fastify/busboy';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyRequest } from 'fastify';
import { DomainError, ErrorCode } from '@app/core';
import { clientGone, translateMultipartError, wholePart, wholePartStream } from './multipart-errors';

/** What @fastify/multipart throws: an @fastify/error with its code and status. */
const fastifyError = (code: string, statusCode: number, message: string) =>
  Object.assign(new Error(message), { code, statusCode });
const tooLarge = () => new DomainError(ErrorCode.PayloadTooLarge, 'file is larger than 10 MiB');

function translated(err: unknown): { code: string; message: string } {
  const out = translateMultipartError(err, tooLarge);
  expect(out).toBeInstanceOf(DomainError);
  return { code: (out as DomainError).code, message: (out as DomainError).message };
}

describe('translateMultipartError', () => {
  it('only the file-size limit is the route’s "file is larger than …"', () => {
    expect(translated(fastifyError('FST_REQ_FILE_TOO_LARGE', 413, 'request file too large'))).toEqual({
      code: ErrorCode.PayloadTooLarge,
      message: 'file is larger than 10 MiB',
    });
  });

  it.each([
    ['FST_FIELDS_LIMIT', 413, 'too many fields in the multipart body'],
    ['FST_PARTS_LIMIT', 413, 'too many parts in the multipart body'],
    ['FST_FILES_LIMIT', 413, 'too many files in the multipart body (one is allowed)'],
  ])('every other limit (%s) says which it is', (code, status, message) => {
    expect(translated(fastifyError(code, status, 'reach limit'))).toEqual({
      code: ErrorCode.PayloadTooLarge,
      message,
    });
  });

  it('other framework errors answer as the error filter would', () => {
    expect(
      translated(fastifyError('FST_INVALID_MULTIPART_CONTENT_TYPE', 406, 'the request is not multipart')),
    ).toEqual({
      code: ErrorCode.UnsupportedMediaType,
      message: 'send multipart/form-data',
    });
    expect(translated(fastifyError('FST_PROTO_VIOLATION', 400, 'prototype property')).code).toBe(
      ErrorCode.ValidationFailed,
    );
  });

  it('a cut-off or malformed body is a 400 naming the file, also for an error of another realm (no instanceof)', () => {
    for (const err of [
      new Error('Unexpected end of form'),
      { code: 'ERR_STREAM_PREMATURE_CLOSE', message: 'Premature close' },
      { message: 'Malformed part header' },
      fastifyError('FST_SOMETHING_NEW', 400, 'whatever'),
    ]) {
      expect(translated(err)).toEqual({
        code: ErrorCode.ValidationFailed,
        message: 'malformed multipart body',
      });
    }
  });

  it('domain errors and errors of ours pass through unchanged', () => {
    const domain = new DomainError(ErrorCode.Unavailable, 'file storage unavailable, try again shortly');
    expect(translateMultipartError(domain, tooLarge)).toBe(domain);
    const bug = new TypeError('x is not a function');
    expect(translateMultipartError(bug, tooLarge)).toBe(bug);
  });
});

describe('clientGone', () => {
  const request = (raw: {
    complete: boolean;
    destroyed: boolean;
    readableAborted: boolean;
    socket: { destroyed: boolean } | null;
  }) => ({ raw }) as unknown as FastifyRequest;
  const closed = request({
    complete: false,
    destroyed: true,
    readableAborted: true,
    socket: { destroyed: true },
  });
  const open = request({
    complete: false,
    destroyed: false,
    readableAborted: false,
    socket: { destroyed: false },
  });
  // Read to its end (Node then destroys the request stream), its form cut short by the client.
  const whole = request({
    complete: true,
    destroyed: true,
    readableAborted: false,
    socket: { destroyed: false },
  });
  const premature = { code: 'ERR_STREAM_PREMATURE_CLOSE', message: 'Premature close' };

  it('is the client’s abort when its connection is gone and the body was cut off', () => {
    expect(clientGone(closed, premature)).toBe(true);
    expect(clientGone(closed, Object.assign(new Error('aborted'), { code: 'ECONNRESET' }))).toBe(true);
  });

  it('is not when the connection is still there, or the failure is not a cut-off body', () => {
    expect(clientGone(open, premature)).toBe(false);
    expect(clientGone(closed, new TypeError('x is not a function'))).toBe(false);
  });

  it('is not when the whole body arrived (a form without its closing boundary is malformed, not cut off)', () => {
    expect(clientGone(whole, premature)).toBe(false);
  });
});

describe('wholePart', () => {
  const boundary = 'zz';
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n`;

  /**
   * The file stream of `body` as @fastify/multipart hands it over: busboy parses the whole body,
   * and when busboy gives up on the form the plugin destroys the file stream without an error.
   */
  async function fileOf(body: string): Promise<Readable> {
    const bb = new Busboy({ headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
    let file: Readable | undefined;
    bb.on('file', (_name: string, f: Readable) => {
      file = f;
      f.on('error', () => undefined); // the plugin's own listener
    });
    bb.on('error', () => file?.destroy());
    const src = new PassThrough();
    src.pipe(bb);
    src.end(body);
    await new Promise((r) => setTimeout(r, 20));
    if (!file) throw new Error('no file part');
    return file;
  }

  const sink = (got: Buffer[]) =>
    new Writable({
      write(chunk: Buffer, _enc, done) {
        got.push(chunk);
        done();
      },
    });
  /** Settles within `ms`, or says it did not (what a hung route would do). */
  const within = <T>(p: Promise<T>, ms = 1000): Promise<T | 'hung'> =>
    Promise.race([p, new Promise<'hung'>((r) => setTimeout(() => r('hung'), ms).unref())]);

  it('a form that ended without its closing boundary: the bare stream hangs a pipeline, wholePart fails it', async () => {
    const body = `${head}abc`;
    // What the routes did before: pipeline() on the torn-down stream never settles.
    expect(await within(pipeline(await fileOf(body), sink([])), 300)).toBe('hung');
    const got: Buffer[] = [];
    await expect(within(pipeline(wholePart(await fileOf(body)), sink(got)))).rejects.toMatchObject({
      code: 'ERR_STREAM_PREMATURE_CLOSE',
    });
    await expect(within(pipeline(wholePartStream(await fileOf(body)), sink([])))).rejects.toMatchObject({
      code: 'ERR_STREAM_PREMATURE_CLOSE',
    });
    await expect(
      (async () => {
        for await (const _ of wholePartStream(await fileOf(body))) void _;
      })(),
    ).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
  });

  it('a whole form: every byte, as it came', async () => {
    const got: Buffer[] = [];
    await pipeline(wholePart(await fileOf(`${head}abc\r\n--${boundary}--\r\n`)), sink(got));
    expect(Buffer.concat(got).toString()).toBe('abc');
    const bytes = Buffer.alloc(300_000, 7);
    const big = Readable.from([bytes.subarray(0, 100_000), bytes.subarray(100_000)], { objectMode: false });
    const out: Buffer[] = [];
    await pipeline(wholePartStream(big), sink(out));
    expect(Buffer.concat(out).equals(bytes)).toBe(true);
  });

  it('a stream torn down while it is read fails the reader', async () => {
    const src = new Readable({ read() {} });
    src.push(Buffer.from('abc'));
    const reading = pipeline(wholePart(src), sink([]));
    setTimeout(() => src.destroy(), 20);
    await expect(within(reading)).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
  });
});
