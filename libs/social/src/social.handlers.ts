import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { DerivedStateHandler, SocialEventPayload } from '@app/events';
import { SocialRepository } from './social.repository';

type SocialKey = 'social.follow' | 'social.unfollow';

/** `social.follow` / `social.unfollow`: the vlogger's `follower_count` and the follower's `vlogger_count` ± 1. */
@Injectable()
export class SocialHandlers {
  constructor(private readonly socials: SocialRepository) {}

  all(): DerivedStateHandler<SocialKey>[] {
    const make = (routingKey: SocialKey, delta: 1 | -1): DerivedStateHandler<SocialKey> => ({
      routingKey,
      apply: (manager: EntityManager, p: SocialEventPayload) =>
        this.socials.adjustFollowCounts(manager, p.follower_id, p.vlogger_id, delta),
    });
    return [make('social.follow', 1), make('social.unfollow', -1)];
  }
}
