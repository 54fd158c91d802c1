import { DynamicModule, Module, type ModuleMetadata } from '@nestjs/common';
import { AccountModule } from '@app/account';
import { CacheModule } from '@app/cache';
import { CommentModule } from '@app/comment';
import { AppConfig, ConfigModule, DatabaseModule } from '@app/core';
import { EventsModule } from '@app/events';
import { LikeModule } from '@app/like';
import { SCHEMA } from '@app/schema';
import { SocialModule } from '@app/social';
import { VideoModule } from '@app/video';
import { CommentConsumer } from './comment.consumer';
import { LikeConsumer } from './like.consumer';
import { OutboxRelay } from './outbox-relay.service';
import { PopularityConsumer } from './popularity.consumer';
import { SocialConsumer } from './social.consumer';
import { WorkerRunner } from './worker-runner.service';

type Imports = NonNullable<ModuleMetadata['imports']>;

/** The domain modules whose derived-state handlers the worker applies (the same as the api's). */
export const WORKER_DOMAIN_MODULES: Imports = [
  AccountModule,
  VideoModule,
  LikeModule,
  CommentModule,
  SocialModule,
];

export interface WorkerOptions {
  /** Replaces {@link WORKER_DOMAIN_MODULES} (tests of the pipeline alone). */
  domainModules?: Imports;
}

/** The worker: the same domain modules as the api, no HTTP; one consumer per queue and the outbox relay. */
@Module({})
export class WorkerModule {
  static forRoot(config?: AppConfig, opts: WorkerOptions = {}): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        ConfigModule.forRoot(config),
        DatabaseModule.forRoot(SCHEMA),
        CacheModule,
        EventsModule,
        ...(opts.domainModules ?? WORKER_DOMAIN_MODULES),
      ],
      providers: [
        LikeConsumer,
        CommentConsumer,
        SocialConsumer,
        PopularityConsumer,
        OutboxRelay,
        WorkerRunner,
      ],
      exports: [OutboxRelay, WorkerRunner],
    };
  }
}
