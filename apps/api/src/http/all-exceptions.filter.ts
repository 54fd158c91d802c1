import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { DomainError, ErrorCode, isConnectionError } from '@app/core';
import { codeForStatus, ErrorBody, STATUS_OF } from './http-errors';

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  message?: string;
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
      const code = codeForStatus(status);
      const message = status === 404 ? 'route not found' : err.message;
      const body: ErrorBody = { error: message, code };
      if (code === ErrorCode.ValidationFailed) body.details = [];
      return { status, body };
    }
  }
  const fe = err as FastifyLikeError | null;
  if (fe && typeof fe === 'object' && typeof fe.statusCode === 'number' && fe.statusCode < 500) {
    const status = fe.statusCode;
    const known: Record<string, [number, string]> = {
      FST_ERR_CTP_BODY_TOO_LARGE: [413, 'request body is larger than 1 MiB'],
      FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'unsupported content type; send application/json'],
      FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'request body is empty; send {} when there is nothing to send'],
      FST_ERR_CTP_INVALID_JSON_BODY: [400, 'malformed JSON body'],
    };
    const [s, msg] = known[fe.code ?? ''] ?? [
      status,
      status === 400 ? 'malformed request body' : 'bad request',
    ];
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
  if (isConnectionError(err)) {
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
