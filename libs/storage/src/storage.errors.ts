import { conflict, DomainError, ErrorCode, forbidden, notFound, unavailable } from '@app/core';

export const StorageMessages = {
  quotaExceeded: 'storage quota exceeded',
  sessionNotFound: 'upload session not found or expired',
  notYourSession: 'this upload belongs to another account',
  tooManySessions:
    'too many open uploads (at most 5): complete one, or let it expire 24 h after its last chunk',
  incomplete: 'not all chunks uploaded',
  assembling: 'this upload is being assembled by another request: try again shortly',
  storageUnavailable: 'file storage unavailable, try again shortly',
} as const;

export const quotaExceeded = (): DomainError =>
  new DomainError(ErrorCode.PayloadTooLarge, StorageMessages.quotaExceeded);
export const sessionNotFound = (): DomainError => notFound(StorageMessages.sessionNotFound);
export const notYourSession = (): DomainError => forbidden(StorageMessages.notYourSession);
export const tooManySessions = (): DomainError => conflict(StorageMessages.tooManySessions);
export const stillAssembling = (): DomainError => conflict(StorageMessages.assembling);
export const storageUnavailable = (): DomainError => unavailable(StorageMessages.storageUnavailable);
export const partTooLarge = (chunkSize: number): DomainError =>
  new DomainError(ErrorCode.PayloadTooLarge, `part is larger than chunk_size (${chunkSize} bytes)`);

/** `/video/chunk/complete` before every part is stored: a 400 that also says which parts are missing. */
export class IncompleteUploadError extends DomainError {
  constructor(
    /** The first few missing indices (at most 5). */
    readonly missing: number[],
    readonly completed: number,
    readonly total: number,
  ) {
    super(ErrorCode.ValidationFailed, StorageMessages.incomplete, []);
    this.name = 'IncompleteUploadError';
  }
}
