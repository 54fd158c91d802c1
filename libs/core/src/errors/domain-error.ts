/** Machine codes of SPEC §1; each edge (HTTP filter, worker) maps them to its own outcome. */
export enum ErrorCode {
  ValidationFailed = 'VALIDATION_FAILED',
  Unauthenticated = 'UNAUTHENTICATED',
  Forbidden = 'FORBIDDEN',
  NotFound = 'NOT_FOUND',
  Conflict = 'CONFLICT',
  PayloadTooLarge = 'PAYLOAD_TOO_LARGE',
  UnsupportedMediaType = 'UNSUPPORTED_MEDIA_TYPE',
  RateLimited = 'RATE_LIMITED',
  Internal = 'INTERNAL',
  Unavailable = 'UNAVAILABLE',
}

export interface FieldError {
  field: string;
  message: string;
}

/**
 * An expected failure with a code and a message for people. Libraries throw these, never
 * HTTP exceptions: the api maps codes to statuses, the worker to ack / retry / dead-letter.
 */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: FieldError[],
    /** Seconds, for RATE_LIMITED. */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const validationError = (message: string, details: FieldError[] = []): DomainError =>
  new DomainError(ErrorCode.ValidationFailed, message, details);
/** A single bad field: message `<field> <reason>`, details naming it. */
export const fieldError = (field: string, reason: string): DomainError =>
  new DomainError(ErrorCode.ValidationFailed, `${field} ${reason}`, [
    { field, message: `${field} ${reason}` },
  ]);
export const unauthenticated = (message: string): DomainError =>
  new DomainError(ErrorCode.Unauthenticated, message);
export const forbidden = (message: string): DomainError => new DomainError(ErrorCode.Forbidden, message);
export const notFound = (message: string): DomainError => new DomainError(ErrorCode.NotFound, message);
export const conflict = (message: string): DomainError => new DomainError(ErrorCode.Conflict, message);
export const unavailable = (message: string): DomainError => new DomainError(ErrorCode.Unavailable, message);
export const rateLimited = (retryAfterSeconds: number): DomainError =>
  new DomainError(
    ErrorCode.RateLimited,
    'too many requests',
    undefined,
    Math.max(1, Math.ceil(retryAfterSeconds)),
  );

/**
 * A dependency (Redis, the broker) a step needed was unreachable: no fault of the request or
 * message. The worker retries such a message later without counting it against its delivery
 * budget; the api answers 503 where the step was required.
 */
export class DependencyUnavailableError extends Error {
  constructor(
    readonly dependency: 'redis' | 'broker' | 'database',
    message: string,
  ) {
    super(message);
    this.name = 'DependencyUnavailableError';
  }
}
