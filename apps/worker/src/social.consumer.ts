import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@app/core';
import { AmqpConnection, CONSUMER_QUEUES, DeadLetterCounter, EventApplier, EventConsumer } from '@app/events';

/** Queue `social.worker`: applies social events' derived state. */
@Injectable()
export class SocialConsumer extends EventConsumer {
  readonly queue = CONSUMER_QUEUES.social;

  constructor(
    connection: AmqpConnection,
    applier: EventApplier,
    deadLetters: DeadLetterCounter,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    super(connection, applier, deadLetters, config);
  }
}
