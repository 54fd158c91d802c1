import {
  ArgumentsHost,
  BadRequestException,
  ForbiddenException,
  HttpException,
  InternalServerErrorException,
  Logger,
  NotFoundException,
  PayloadTooLargeException,
} from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { QueryFailedError } from 'typeorm';
import { DomainError, ErrorCode, fieldError, rateLimited } from '@app/core';
import { AllExceptionsFilter, toErrorResponse } from './all-exceptions.filter';

/** Records what would have been logged. */
class FakeLogger {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  error(message: string): void {
    this.errors.push(message);
  }
  warn(message: string): void {
    this.warnings.push(message);
  }
}

/** Records what the filter sends. */
class FakeReply {
  sent = false;
  statusCode?: number;
  readonly headers: Record<string, string> = {};
  payload?: unknown;
  status(code: number): this {
    this.statusCode = code;
    return this;
  }
  header(name: string, value: string): this {
    this.headers[name.toLowerCase()] = value;
    return this;
  }
  send(payload: unknown): this {
    this.payload = payload;
    this.sent = true;
    return this;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('toErrorResponse', () => {
  let fake: FakeLogger;
  let logger: Logger;

  beforeEach(() => {
    fake = new FakeLogger();
    logger = fake as unknown as Logger;
  });

  describe('domain errors', () => {
    it.each([
      [ErrorCode.ValidationFailed, 400],
      [ErrorCode.Unauthenticated, 401],
      [ErrorCode.Forbidden, 403],
      [ErrorCode.NotFound, 404],
      [ErrorCode.Conflict, 409],
      [ErrorCode.PayloadTooLarge, 413],
      [ErrorCode.UnsupportedMediaType, 415],
      [ErrorCode.RateLimited, 429],
      [ErrorCode.Unavailable, 503],
    ])('%s → %i with its message and code', (code, status) => {
      const r = toErrorResponse(new DomainError(code, 'the reason'), logger);
      expect(r.status).toBe(status);
      const body = code === ErrorCode.ValidationFailed ? { details: [] } : {};
      expect(r.body).toEqual({ error: 'the reason', code, ...body });
      expect(fake.errors).toEqual([]);
    });

    it('VALIDATION_FAILED carries its details', () => {
      const r = toErrorResponse(fieldError('video_id', 'must be a positive integer id'), logger);
      expect(r).toEqual({
        status: 400,
        body: {
          error: 'video_id must be a positive integer id',
          code: 'VALIDATION_FAILED',
          details: [{ field: 'video_id', message: 'video_id must be a positive integer id' }],
        },
        retryAfter: undefined,
      });
    });

    it('only VALIDATION_FAILED has a details field', () => {
      const r = toErrorResponse(
        new DomainError(ErrorCode.Conflict, 'already liked', [{ field: 'x', message: 'y' }]),
        logger,
      );
      expect(r.body).toEqual({ error: 'already liked', code: 'CONFLICT' });
    });

    it('RATE_LIMITED passes Retry-After seconds on', () => {
      const r = toErrorResponse(rateLimited(2.2), logger);
      expect(r.status).toBe(429);
      expect(r.retryAfter).toBe(3);
      expect(r.body).toEqual({ error: 'too many requests', code: 'RATE_LIMITED' });
    });
  });

  describe('framework (HttpException) errors', () => {
    it('NotFoundException (unknown route) → 404 "route not found"', () => {
      const r = toErrorResponse(new NotFoundException('Cannot POST /nope'), logger);
      expect(r).toEqual({ status: 404, body: { error: 'route not found', code: 'NOT_FOUND' } });
    });

    it('BadRequestException → 400 VALIDATION_FAILED with details [], never echoing its text', () => {
      const r = toErrorResponse(new BadRequestException('bad thing at /srv/app.js:12'), logger);
      expect(r).toEqual({
        status: 400,
        body: { error: 'malformed request', code: 'VALIDATION_FAILED', details: [] },
      });
    });

    it('a Fastify error Nest wrapped in an HttpException is found by its message (issue 12 #12)', () => {
      const cases: [string, number, number, string][] = [
        ['Request body is too large', 413, 413, 'request body is larger than 64 KiB'],
        [
          "Body is not valid JSON but content-type is set to 'application/json'",
          400,
          400,
          'malformed JSON body',
        ],
        [
          'Request body size did not match Content-Length',
          400,
          400,
          'request body length does not match Content-Length',
        ],
        ['Unsupported Media Type', 415, 415, 'unsupported content type; send application/json'],
      ];
      for (const [raw, status, want, message] of cases) {
        const r = toErrorResponse(new HttpException(raw, status), logger);
        expect(r.status).toBe(want);
        expect(r.body.error).toBe(message);
      }
    });

    it('other 4xx map their status to the code', () => {
      expect(toErrorResponse(new ForbiddenException('nope'), logger).body.code).toBe('FORBIDDEN');
      const r = toErrorResponse(new PayloadTooLargeException('too big'), logger);
      expect(r.status).toBe(413);
      expect(r.body.code).toBe('PAYLOAD_TOO_LARGE');
    });

    it('a 5xx HttpException is an opaque 500', () => {
      const r = toErrorResponse(new InternalServerErrorException('pool exhausted at db:3306'), logger);
      expect(r.status).toBe(500);
      expect(JSON.stringify(r.body)).not.toContain('pool');
      expect(fake.errors).toHaveLength(1);
    });
  });

  describe('fastify errors', () => {
    const fst = (statusCode: number, code: string, message = 'raw fastify text'): Error =>
      Object.assign(new Error(message), { statusCode, code });

    it('FST_ERR_CTP_BODY_TOO_LARGE → 413 PAYLOAD_TOO_LARGE', () => {
      const r = toErrorResponse(fst(413, 'FST_ERR_CTP_BODY_TOO_LARGE'), logger);
      expect(r).toEqual({
        status: 413,
        body: { error: 'request body is larger than 64 KiB', code: 'PAYLOAD_TOO_LARGE' },
      });
    });

    it('FST_ERR_CTP_INVALID_JSON_BODY → 400 with details []', () => {
      const r = toErrorResponse(fst(400, 'FST_ERR_CTP_INVALID_JSON_BODY', 'Unexpected token } at 7'), logger);
      expect(r).toEqual({
        status: 400,
        body: { error: 'malformed JSON body', code: 'VALIDATION_FAILED', details: [] },
      });
    });

    it('FST_ERR_CTP_EMPTY_JSON_BODY → 400, FST_ERR_CTP_INVALID_MEDIA_TYPE → 415', () => {
      const empty = toErrorResponse(fst(400, 'FST_ERR_CTP_EMPTY_JSON_BODY'), logger);
      expect(empty.status).toBe(400);
      expect(empty.body.code).toBe('VALIDATION_FAILED');
      expect(empty.body.details).toEqual([]);
      const media = toErrorResponse(fst(415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE'), logger);
      expect(media.status).toBe(415);
      expect(media.body.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    });

    it('an unknown 400 from the framework never echoes its text', () => {
      const r = toErrorResponse(fst(400, 'FST_ERR_SOMETHING', 'secret internal detail'), logger);
      expect(r).toEqual({
        status: 400,
        body: { error: 'malformed request body', code: 'VALIDATION_FAILED', details: [] },
      });
    });

    it.each([
      ['FST_ERR_BAD_URL', 400, 'malformed URL'],
      ['FST_PARTS_LIMIT', 413, 'too many parts in the multipart body'],
      ['FST_FIELDS_LIMIT', 413, 'too many fields in the multipart body'],
      ['FST_INVALID_MULTIPART_CONTENT_TYPE', 415, 'send multipart/form-data'],
      ['ERR_HTTP_REQUEST_TIMEOUT', 408, 'request timeout'],
    ])('%s → %i with its own message', (code, status, message) => {
      const r = toErrorResponse(fst(status, code), logger);
      expect(r.status).toBe(status);
      expect(r.body.error).toBe(message);
      if (status === 408) expect(r.body.code).toBe('REQUEST_TIMEOUT');
    });

    it('a bare SyntaxError (JSON.parse) → 400 malformed JSON', () => {
      const r = toErrorResponse(new SyntaxError('Unexpected end of JSON input'), logger);
      expect(r).toEqual({
        status: 400,
        body: { error: 'malformed JSON body', code: 'VALIDATION_FAILED', details: [] },
      });
    });
  });

  describe('unknown errors', () => {
    it('→ 500 with only {error, code, error_id}; the id and the cause are logged', () => {
      const err = new Error("ER_NO_SUCH_TABLE: Table 'feed.videos' doesn't exist (SELECT * FROM videos)");
      const r = toErrorResponse(err, logger, 'req-17');
      expect(r.status).toBe(500);
      expect(Object.keys(r.body).sort()).toEqual(['code', 'error', 'error_id']);
      expect(r.body.error).toBe('internal error');
      expect(r.body.code).toBe('INTERNAL');
      expect(r.body.error_id).toMatch(UUID);
      const wire = JSON.stringify(r.body);
      expect(wire).not.toMatch(/SELECT|ER_NO_SUCH_TABLE|videos|at /);

      expect(fake.errors).toHaveLength(1);
      expect(fake.errors[0]).toContain(r.body.error_id);
      expect(fake.errors[0]).toContain('req-17');
      expect(fake.errors[0]).toContain('ER_NO_SUCH_TABLE');
    });

    it('each 500 gets its own id', () => {
      const a = toErrorResponse(new Error('x'), logger);
      const b = toErrorResponse(new Error('x'), logger);
      expect(a.body.error_id).not.toBe(b.body.error_id);
    });

    it.each([
      ['a string', 'boom'],
      ['null', null],
      ['undefined', undefined],
      ['a plain object', { weird: true }],
      ['a 5xx fastify-like error', Object.assign(new Error('x'), { statusCode: 502, code: 'FST_X' })],
    ])('%s thrown → opaque 500', (_label, thrown) => {
      const r = toErrorResponse(thrown, logger);
      expect(r.status).toBe(500);
      expect(r.body).toEqual({
        error: 'internal error',
        code: 'INTERNAL',
        error_id: expect.stringMatching(UUID),
      });
      expect(fake.errors).toHaveLength(1);
    });
  });

  describe('internal domain errors', () => {
    it('a DomainError with code INTERNAL is still an opaque, logged 500', () => {
      const r = toErrorResponse(new DomainError(ErrorCode.Internal, 'SELECT failed on videos'), logger);
      expect(r.status).toBe(500);
      expect(r.body).toEqual({
        error: 'internal error',
        code: 'INTERNAL',
        error_id: expect.stringMatching(UUID),
      });
      expect(fake.errors).toHaveLength(1);
      expect(fake.errors[0]).toContain(r.body.error_id);
    });
  });

  describe('connection errors', () => {
    it.each([
      [
        'ECONNREFUSED',
        Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:3306'), { code: 'ECONNREFUSED' }),
      ],
      [
        'PROTOCOL_CONNECTION_LOST in a QueryFailedError',
        new QueryFailedError(
          'SELECT 1',
          [],
          Object.assign(new Error('Connection lost'), { code: 'PROTOCOL_CONNECTION_LOST' }),
        ),
      ],
      ['a fatal driver error', Object.assign(new Error('fatal'), { fatal: true })],
    ])('%s → 503 UNAVAILABLE without the driver text', (_label, err) => {
      const r = toErrorResponse(err, logger);
      expect(r).toEqual({
        status: 503,
        body: { error: 'database unavailable, try again shortly', code: 'UNAVAILABLE' },
      });
      expect(fake.errors).toHaveLength(1);
    });

    it.each([
      ['ER_LOCK_WAIT_TIMEOUT', 'Lock wait timeout exceeded; try restarting transaction'],
      ['ER_LOCK_DEADLOCK', 'Deadlock found when trying to get lock; try restarting transaction'],
    ])(
      '%s (the database up, a row locked too long) → 503 "database busy" with Retry-After, a warning',
      (code, text) => {
        const err = new QueryFailedError(
          'UPDATE videos SET x = 1',
          [],
          Object.assign(new Error(text), { code }),
        );
        expect(toErrorResponse(err, logger)).toEqual({
          status: 503,
          body: { error: 'database busy, try again shortly', code: 'UNAVAILABLE' },
          retryAfter: 1,
        });
        expect(fake.errors).toHaveLength(0);
        expect(fake.warnings).toHaveLength(1);
      },
    );
  });
});

describe('AllExceptionsFilter', () => {
  const hostFor = (reply: FakeReply): ArgumentsHost =>
    ({
      switchToHttp: () => ({
        getResponse: <T>() => reply as unknown as T,
        getRequest: <T>() => ({ id: 'req-1' }) as unknown as FastifyRequest as T,
      }),
    }) as unknown as ArgumentsHost;

  afterEach(() => jest.restoreAllMocks());

  it('sends the status, a JSON content type and the body', () => {
    const reply = new FakeReply();
    new AllExceptionsFilter().catch(new DomainError(ErrorCode.NotFound, 'video not found'), hostFor(reply));
    expect(reply.statusCode).toBe(404);
    expect(reply.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(reply.payload).toEqual({ error: 'video not found', code: 'NOT_FOUND' });
    expect(reply.headers['retry-after']).toBeUndefined();
  });

  it('adds Retry-After for RATE_LIMITED', () => {
    const reply = new FakeReply();
    new AllExceptionsFilter().catch(rateLimited(30), hostFor(reply));
    expect(reply.statusCode).toBe(429);
    expect(reply.headers['retry-after']).toBe('30');
  });

  it('logs a 500 with the request id', () => {
    const spy = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const reply = new FakeReply();
    new AllExceptionsFilter().catch(new Error('kaboom'), hostFor(reply));
    expect(reply.statusCode).toBe(500);
    const body = reply.payload as { error_id: string };
    expect(spy).toHaveBeenCalledTimes(1);
    expect(String(spy.mock.calls[0][0])).toContain(body.error_id);
    expect(String(spy.mock.calls[0][0])).toContain('req-1');
  });

  it('does nothing when the reply has already been sent', () => {
    const reply = new FakeReply();
    reply.sent = true;
    new AllExceptionsFilter().catch(new HttpException('late', 400), hostFor(reply));
    expect(reply.statusCode).toBeUndefined();
    expect(reply.payload).toBeUndefined();
  });
});
