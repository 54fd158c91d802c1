import { conflict, DomainError } from '@app/core';

export const LikeErrors = {
  alreadyLiked: (): DomainError => conflict('already liked'),
  notLiked: (): DomainError => conflict('not liked'),
};
