import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { EventContext, SocialEventPayload } from '@app/events';
import { SocialRepository } from './social.repository';

/** The social domain's derived state: the vlogger's `follower_count`, the follower's `vlogger_count`. */
@Controller()
export class SocialEventsController {
  constructor(private readonly socials: SocialRepository) {}

  @EventPattern('social.follow')
  followed(@Payload() p: SocialEventPayload, @Ctx() ctx: EventContext<'social.follow'>): void {
    this.count(p, ctx, 1);
  }

  @EventPattern('social.unfollow')
  unfollowed(@Payload() p: SocialEventPayload, @Ctx() ctx: EventContext<'social.unfollow'>): void {
    this.count(p, ctx, -1);
  }

  private count(p: SocialEventPayload, ctx: EventContext, delta: 1 | -1): void {
    const counters = this.socials.counters(ctx.apply);
    counters.add(p.vlogger_id, 'follower_count', delta);
    counters.add(p.follower_id, 'vlogger_count', delta);
  }
}
