import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { Counter, Gauge, Registry } from 'prom-client';
import { APP_CONFIG, collectStoppableDefaultMetrics, Database, nowMs, type AppConfig } from '@app/core';
import {
  ALL_CONSUMER_QUEUES,
  AmqpTransportStrategy,
  ConsumerMetrics,
  deadLetterQueueName,
  EventPublisher,
  OutboxStatus,
} from '@app/events';
import { CounterReconciler } from './counter-reconciler.service';

const DLQS = ALL_CONSUMER_QUEUES.map((q) => deadLetterQueueName(q.name));
/** How long `/healthz` waits for the broker's dead-letter depths (a silent broker: `dead_letters` null). */
const HEALTH_WAIT_MS = 500;

/**
 * The worker's own small HTTP listener on `WORKER_HTTP_PORT` (default 8081; `off` disables it):
 * - `GET /healthz`: the database (200 while it answers, else 503), the broker connection,
 *   whether consumption runs or is paused, and the depth of every dead-letter queue;
 * - `GET /metrics`: Prometheus text — consumer outcomes per queue, batch sizes, pauses, work and
 *   dead-letter queue depths, the outbox backlog and the relay's lag, what the reconciliation
 *   fixed, and the process's default metrics.
 * Bound to `HOST`, like the api; meant for the orchestrator's health check and for scraping.
 */
@Injectable()
export class WorkerHttp implements OnModuleDestroy {
  private readonly logger = new Logger(WorkerHttp.name);
  private readonly registry = new Registry();
  private server: Server | null = null;
  private readonly stopDefaultMetrics: () => void;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(AmqpTransportStrategy) private readonly transport: AmqpTransportStrategy,
    private readonly db: Database,
    private readonly publisher: EventPublisher,
    private readonly consumers: ConsumerMetrics,
    private readonly reconciler: CounterReconciler,
  ) {
    this.stopDefaultMetrics = collectStoppableDefaultMetrics({ register: this.registry });
    const [broker, database, reconciliation] = [this.publisher, this.db, this.reconciler];
    new Gauge({
      name: 'events_queue_messages',
      help: 'Messages waiting in each consumer queue and its dead-letter queue (broker-wide)',
      labelNames: ['queue'],
      registers: [this.registry],
      async collect() {
        this.reset();
        const names = ALL_CONSUMER_QUEUES.flatMap((q) => [q.name, deadLetterQueueName(q.name)]);
        for (const [queue, n] of (await broker.queueDepths(names)) ?? []) this.set({ queue }, n);
      },
    });
    new Gauge({
      name: 'outbox_pending_events',
      help: 'Outbox rows neither confirmed by the broker nor applied (the relay finishes them)',
      registers: [this.registry],
      async collect() {
        const rows = await database
          .query<{ n: number }>('SELECT COUNT(*) AS n FROM outbox WHERE status = ?', [OutboxStatus.Pending])
          .catch(() => null);
        if (rows) this.set(Number(rows[0].n));
      },
    });
    new Gauge({
      name: 'outbox_relay_lag_seconds',
      help: 'Age of the oldest Pending outbox row (0 when none)',
      registers: [this.registry],
      async collect() {
        const rows = await database
          .query<{ t: number | null }>('SELECT MIN(update_time) AS t FROM outbox WHERE status = ?', [
            OutboxStatus.Pending,
          ])
          .catch(() => null);
        if (rows) this.set(rows[0].t === null ? 0 : Math.max(0, (nowMs() - Number(rows[0].t)) / 1000));
      },
    });
    new Counter({
      name: 'reconcile_fixed_total',
      help: 'Counters the reconciliation found off and set from their rows (non-zero is a bug to look at)',
      labelNames: ['counter'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [counter, n] of Object.entries(reconciliation.totals.fixed)) this.inc({ counter }, n);
      },
    });
    new Counter({
      name: 'reconcile_stuck_events_applied_total',
      help: 'Events the reconciliation found unapplied long after they were written (dead-lettered or lost) and applied',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(reconciliation.totals.stuckApplied);
      },
    });
  }

  /** The port it listens on (0 before start or when off). */
  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  async start(): Promise<void> {
    if (this.config.workerHttpPort === null || this.server) return;
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const send = (status: number, type: string, body: string): void => {
        res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
      };
      if (req.method !== 'GET' && req.method !== 'HEAD')
        return send(405, 'text/plain', 'method not allowed\n');
      if (path === '/healthz') {
        void this.health().then((h) =>
          send(h.status === 'ok' ? 200 : 503, 'application/json', JSON.stringify(h)),
        );
        return;
      }
      if (path === '/metrics') {
        void Promise.all([this.registry.metrics(), this.consumers.registry.metrics()]).then(
          ([a, b]) => send(200, this.registry.contentType, a + b),
          (err: unknown) => send(500, 'text/plain', `metrics failed: ${(err as Error).message}\n`),
        );
        return;
      }
      send(404, 'application/json', JSON.stringify({ error: 'route not found', code: 'NOT_FOUND' }));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.workerHttpPort!, this.config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.logger.log(`health and metrics on http://${this.config.host}:${this.port}/healthz, /metrics`);
  }

  async health(): Promise<{
    status: 'ok' | 'unavailable';
    database: 'up' | 'down';
    rabbitmq: 'up' | 'down' | 'disabled';
    consumption: 'consuming' | 'paused' | 'stopped' | 'disabled';
    dead_letters: Record<string, number> | null;
  }> {
    const [dbUp, dlq, rabbitmq] = await Promise.all([
      this.db.ping(),
      this.publisher.queueDepths(DLQS, HEALTH_WAIT_MS),
      this.publisher.probe(),
    ]);
    const consumption = !this.config.amqpUrl
      ? 'disabled'
      : this.transport.isPaused
        ? 'paused'
        : this.transport.isConsuming
          ? 'consuming'
          : 'stopped';
    return {
      status: dbUp ? 'ok' : 'unavailable',
      database: dbUp ? 'up' : 'down',
      rabbitmq,
      consumption,
      dead_letters: dlq ? Object.fromEntries(dlq) : null,
    };
  }

  onModuleDestroy(): void {
    this.stopDefaultMetrics();
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
