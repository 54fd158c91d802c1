import { DomainError, forbidden, notFound } from '@app/core';

export const CommentErrors = {
  notFound: (): DomainError => notFound('comment not found'),
  notAuthor: (): DomainError => forbidden('only the author can delete this comment'),
  authorNotFound: (): DomainError => notFound('account not found'),
};
