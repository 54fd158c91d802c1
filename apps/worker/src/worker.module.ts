import {
  BeforeApplicationShutdown,
  DynamicModule,
  Inject,
  Injectable,
  Module,
  OnApplicationBootstrap,
  OnModuleInit,
  type ModuleMetadata,
} from '@nestjs/common';
import { AccountModule } from '@app/account';
import { CacheModule } from '@app/cache';
import { CommentModule } from '@app/comment';
import { APP_CONFIG, ConfigModule, Database, DatabaseModule, type AppConfig } from '@app/core';
import {
  AmqpTransportStrategy,
  ConsumerMetrics,
  EventApplier,
  EventHousekeeper,
  EventsModule,
} from '@app/events';
import { LikeModule } from '@app/like';
import { FeedModule } from '@app/feed';
import { NotificationModule } from '@app/notification';
import { SCHEMA } from '@app/schema';
import { SocialModule } from '@app/social';
import { VideoModule } from '@app/video';
import { CounterReconciler } from './counter-reconciler.service';
import { OutboxRelay } from './outbox-relay.service';
import { WorkerHttp } from './worker-http.service';

type Imports = NonNullable<ModuleMetadata['imports']>;

/** The domain modules whose `@EventPattern` handlers the worker runs (the same modules as the api's). */
export const WORKER_DOMAIN_MODULES: Imports = [
  AccountModule,
  VideoModule,
  LikeModule,
  CommentModule,
  SocialModule,
  NotificationModule,
  FeedModule,
];

export interface WorkerOptions {
  /** Replaces {@link WORKER_DOMAIN_MODULES} (tests of the pipeline alone). */
  domainModules?: Imports;
}

/**
 * Hands the transport what it needs from the application (it is created before the module, by
 * `createMicroservice`), and runs the worker's background duties while it is up: its HTTP
 * listener (`/healthz`, `/metrics`), and with a broker the outbox relay, the event tables'
 * pruning and the counters' reconciliation (without a broker the api applies and prunes, and
 * there is nothing to relay). On shutdown Nest closes the transport first (it drains), then these
 * stop.
 */
@Injectable()
class WorkerLifecycle implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    @Inject(AmqpTransportStrategy) private readonly transport: AmqpTransportStrategy,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly applier: EventApplier,
    private readonly database: Database,
    private readonly metrics: ConsumerMetrics,
    private readonly relay: OutboxRelay,
    private readonly housekeeper: EventHousekeeper,
    private readonly reconciler: CounterReconciler,
    private readonly http: WorkerHttp,
  ) {}

  onModuleInit(): void {
    this.transport.bind({ applier: this.applier, database: this.database, metrics: this.metrics });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.http.start();
    if (!this.config.amqpUrl) return;
    this.relay.start();
    this.housekeeper.start();
    this.reconciler.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all([this.relay.stop(), this.housekeeper.stop(), this.reconciler.stop(), this.http.stop()]);
  }
}

/**
 * The worker: the same domain modules as the api (their `@EventPattern` handlers are the
 * consumers), no HTTP routes but its health/metrics listener; the outbox relay, the pruning and
 * the reconciliation. `transport` is the microservice strategy the process was created with.
 */
@Module({})
export class WorkerModule {
  static forRoot(
    config: AppConfig | undefined,
    transport: AmqpTransportStrategy,
    opts: WorkerOptions = {},
  ): DynamicModule {
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
        { provide: AmqpTransportStrategy, useValue: transport },
        OutboxRelay,
        CounterReconciler,
        WorkerHttp,
        WorkerLifecycle,
      ],
      exports: [OutboxRelay, CounterReconciler, WorkerHttp],
    };
  }
}
