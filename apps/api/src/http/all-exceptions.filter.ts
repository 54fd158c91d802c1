import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { errorCodes, type FastifyReply, type FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import {
  DomainError,
  ErrorCode,
  CommitOutcomeUnknownError,
  isDatabaseUnavailable,
  isLockContention,
} from '@app/core';
import { codeForStatus, ErrorBody, REQUEST_TIMEOUT, STATUS_OF } from './http-errors';

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  message?: string;
}

/**
 * Every error Fastify, Node's HTTP server and @fastify/multipart raise for a client's request,
 * by code, as SPEC §1 status and message (their own text, which names internals, never reaches
 * the client).
 */
export const FRAMEWORK_ERRORS: Record<string, [number, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'request body is larger than 64 KiB'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'unsupported content type; send application/json'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'request body is empty; send {} when there is nothing to send'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'malformed JSON body'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'request body length does not match Content-Length'],
  FST_ERR_BAD_URL: [400, 'malformed URL'],
  FST_ERR_ASYNC_CONSTRAINT: [400, 'malformed request'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request timeout'],
  FST_PARTS_LIMIT: [413, 'too many parts in the multipart body'],
  FST_FILES_LIMIT: [413, 'too many files in the multipart body (one is allowed)'],
  FST_FIELDS_LIMIT: [413, 'too many fields in the multipart body'],
  FST_REQ_FILE_TOO_LARGE: [413, 'file is too large'],
  FST_PROTO_VIOLATION: [400, 'malformed multipart body'],
  FST_INVALID_MULTIPART_CONTENT_TYPE: [415, 'send multipart/form-data'],
  FST_INVALID_JSON_FIELD_ERROR: [400, 'malformed multipart body'],
  FST_FILE_BUFFER_NOT_FOUND: [400, 'malformed multipart body'],
  FST_NO_FORM_DATA: [400, 'malformed multipart body'],
};

/**
 * Nest turns a Fastify client error (bad JSON, body too large…) into `HttpException(message,
 * status)` before any filter sees it, dropping its code: the code is found again from the
 * message, by Fastify's own list of errors.
 */
const FASTIFY_MESSAGES: [RegExp, string][] = Object.entries(errorCodes).flatMap(([code, Ctor]) => {
  if (!(code in FRAMEWORK_ERRORS)) return [];
  const message = new (Ctor as new () => Error)().message;
  const pattern = message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/%s/g, '.*');
  return [[new RegExp(`^${pattern}$`), code] as [RegExp, string]];
});

function fastifyCode(message: string): string | undefined {
  return FASTIFY_MESSAGES.find(([re]) => re.test(message))?.[1];
}

/** What a framework 4xx without a known code says: its own text may name internals. */
const GENERIC_MESSAGE: Record<number, string> = {
  400: 'malformed request',
  404: 'route not found',
  405: 'method not allowed',
  413: 'request body is larger than 64 KiB',
  415: 'unsupported content type; send application/json',
};

/** A framework or multipart error as the DomainError SPEC §1 answers, or null if it is none. */
export function frameworkError(err: unknown): DomainError | null {
  const code = err && typeof err === 'object' ? (err as FastifyLikeError).code : undefined;
  const known = code === undefined ? undefined : FRAMEWORK_ERRORS[code];
  if (!known || known[0] === 408) return null;
  const ec = codeForStatus(known[0]);
  return ec === REQUEST_TIMEOUT
    ? null
    : new DomainError(ec, known[1], ec === ErrorCode.ValidationFailed ? [] : undefined);
}

/**
 * Translates every error into SPEC §1's body. Domain errors carry their code; framework
 * errors map by status; anything else is a 500 that says only "internal error" and an id,
 * logged with the real cause. Nothing internal (SQL, stack, library text) reaches the client.
 */
export function toErrorResponse(
  err: unknown,
  logger: Logger,
  requestId?: string,
): { status: number; body: ErrorBody; retryAfter?: number } {
  if (err instanceof DomainError && err.code !== ErrorCode.Internal) {
    const body: ErrorBody = { error: err.message, code: err.code };
    if (err.code === ErrorCode.ValidationFailed) body.details = err.details ?? [];
    return { status: STATUS_OF[err.code], body, retryAfter: err.retryAfter };
  }
  if (err instanceof HttpException) {
    const status = err.getStatus();
    if (status < 500) {
      // Only the framework throws these (the code throws DomainErrors): never echo their text.
      const known = FRAMEWORK_ERRORS[fastifyCode(err.message) ?? ''];
      const [s, message] = known ?? [status, GENERIC_MESSAGE[status] ?? 'bad request'];
      const code = codeForStatus(s);
      const body: ErrorBody = { error: message, code };
      if (code === ErrorCode.ValidationFailed) body.details = [];
      return { status: s, body };
    }
  }
  const fe = err as FastifyLikeError | null;
  const known = fe && typeof fe === 'object' ? FRAMEWORK_ERRORS[fe.code ?? ''] : undefined;
  if (known || (fe && typeof fe === 'object' && typeof fe.statusCode === 'number' && fe.statusCode < 500)) {
    const status = fe?.statusCode ?? 400;
    const [s, msg] = known ?? [status, status === 400 ? 'malformed request body' : 'bad request'];
    const code = codeForStatus(s);
    const body: ErrorBody = { error: msg, code };
    if (code === ErrorCode.ValidationFailed) body.details = [];
    return { status: s, body };
  }
  if (err instanceof SyntaxError) {
    return {
      status: 400,
      body: { error: 'malformed JSON body', code: ErrorCode.ValidationFailed, details: [] },
    };
  }
  if (err instanceof CommitOutcomeUnknownError) {
    logger.error(`database unavailable during a commit: ${err.message}`);
    return {
      status: 503,
      body: {
        error: 'database unavailable while saving: the write may or may not have been saved; retry it',
        code: ErrorCode.Unavailable,
      },
    };
  }
  if (isLockContention(err)) {
    // The database answers, but a row this write needs stayed locked past the session's bound
    // (heavy contention on one video or account): the statement was refused, nothing was written.
    logger.warn(`database busy: ${(err as Error).message}`);
    return {
      status: 503,
      body: { error: 'database busy, try again shortly', code: ErrorCode.Unavailable },
      retryAfter: 1,
    };
  }
  if (isDatabaseUnavailable(err)) {
    logger.error(`database unavailable: ${(err as Error).message}`);
    return {
      status: 503,
      body: { error: 'database unavailable, try again shortly', code: ErrorCode.Unavailable },
    };
  }
  const errorId = randomUUID();
  logger.error(
    `internal error ${errorId} (request ${requestId ?? '-'}): ${(err as Error)?.stack ?? String(err)}`,
  );
  return { status: 500, body: { error: 'internal error', code: ErrorCode.Internal, error_id: errorId } };
}

export function sendError(reply: FastifyReply, result: ReturnType<typeof toErrorResponse>): void {
  if (result.retryAfter !== undefined) void reply.header('Retry-After', String(result.retryAfter));
  void reply
    .status(result.status)
    .header('content-type', 'application/json; charset=utf-8')
    .send(result.body);
}

@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpError');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const reply = ctx.getResponse<FastifyReply>();
    const request = ctx.getRequest<FastifyRequest>();
    if (reply.sent) return;
    sendError(reply, toErrorResponse(exception, this.logger, request?.id));
  }
}
