import { ErrorCode } from '@app/core';

/** SPEC §1: one status per code. */
export const STATUS_OF: Record<ErrorCode, number> = {
  [ErrorCode.ValidationFailed]: 400,
  [ErrorCode.Unauthenticated]: 401,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.PayloadTooLarge]: 413,
  [ErrorCode.UnsupportedMediaType]: 415,
  [ErrorCode.RateLimited]: 429,
  [ErrorCode.Internal]: 500,
  [ErrorCode.Unavailable]: 503,
};

const CODE_OF_STATUS: Record<number, ErrorCode> = Object.fromEntries(
  Object.entries(STATUS_OF).map(([code, status]) => [status, code as ErrorCode]),
);

/** SPEC §1: 408, a request (headers or body) that did not arrive in time; the connection is closed. */
export const REQUEST_TIMEOUT = 'REQUEST_TIMEOUT';

export function codeForStatus(status: number): ErrorCode | typeof REQUEST_TIMEOUT {
  if (status === 408) return REQUEST_TIMEOUT;
  return CODE_OF_STATUS[status] ?? (status >= 500 ? ErrorCode.Internal : ErrorCode.ValidationFailed);
}

export interface ErrorBody {
  error: string;
  code: ErrorCode | typeof REQUEST_TIMEOUT;
  details?: { field: string; message: string }[];
  error_id?: string;
}
