import { DomainError, forbidden, notFound } from '@app/core';

/** Errors of the video domain; the api maps their codes to statuses. */
export const VideoErrors = {
  notFound: (): DomainError => notFound('video not found'),
  notAuthor: (): DomainError => forbidden('only the author can delete this video'),
  authorNotFound: (): DomainError => notFound('account not found'),
};
