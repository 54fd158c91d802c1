import type { FastifyRequest } from 'fastify';
import { DomainError, ErrorCode } from '@app/core';
import { clientGone, translateMultipartError } from './multipart-errors';

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
    destroyed: boolean;
    readableAborted: boolean;
    socket: { destroyed: boolean } | null;
  }) => ({ raw }) as unknown as FastifyRequest;
  const closed = request({ destroyed: true, readableAborted: true, socket: { destroyed: true } });
  const open = request({ destroyed: false, readableAborted: false, socket: { destroyed: false } });
  const premature = { code: 'ERR_STREAM_PREMATURE_CLOSE', message: 'Premature close' };

  it('is the client’s abort when its connection is gone and the body was cut off', () => {
    expect(clientGone(closed, premature)).toBe(true);
    expect(clientGone(closed, Object.assign(new Error('aborted'), { code: 'ECONNRESET' }))).toBe(true);
  });

  it('is not when the connection is still there, or the failure is not a cut-off body', () => {
    expect(clientGone(open, premature)).toBe(false);
    expect(clientGone(closed, new TypeError('x is not a function'))).toBe(false);
  });
});
