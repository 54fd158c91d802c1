import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { ErrorResponse } from './api-responses';

/** The error statuses of SPEC §1 a route may declare. */
export type ApiErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 503;

const MEANING: Record<ApiErrorStatus, string> = {
  400: 'VALIDATION_FAILED: invalid input; `details` names each bad field ([] for a malformed body)',
  401: 'UNAUTHENTICATED: missing, malformed, expired or revoked token',
  403: 'FORBIDDEN: authenticated, but not allowed to act on this target',
  404: 'NOT_FOUND: the target does not exist',
  409: 'CONFLICT: conflicts with the current state',
  413: 'PAYLOAD_TOO_LARGE: a JSON body over 64 KiB, or a file over its limit or past the storage quota',
  415: 'UNSUPPORTED_MEDIA_TYPE: a body that is not JSON, or a file of the wrong type (judged by content)',
  429: 'RATE_LIMITED: too many requests; retry after `Retry-After` seconds',
  503: 'UNAVAILABLE: a required dependency (database, file storage) is down; nothing was written',
};

/**
 * Declares error answers of a route (on a method) or of every route of a controller (on the
 * class), each with SPEC §1's body `{error, code, details?}` ({@link ErrorResponse}).
 */
export function ApiErrors(...statuses: ApiErrorStatus[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...statuses.map((status) =>
      ApiResponse({
        status,
        description: MEANING[status],
        type: ErrorResponse,
        ...(status === 429
          ? { headers: { 'Retry-After': { description: 'seconds', schema: { type: 'integer' } } } }
          : {}),
      }),
    ),
  );
}

/**
 * What every POST route may answer whatever it does (SPEC §1): a malformed or invalid body
 * (400), one too large (413) or of the wrong type (415), the database down (503). On each
 * controller class; its routes add their own with {@link ApiErrors}.
 */
export const ApiCommonErrors = (): ClassDecorator => ApiErrors(400, 413, 415, 503);
