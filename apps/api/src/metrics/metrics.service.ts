import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CacheMetrics, CacheStore } from '@app/cache';
import {
  ALL_CONSUMER_QUEUES,
  deadLetterQueueName,
  EventPublisher,
  OutboxEntity,
  OutboxStatus,
} from '@app/events';
import { collectStoppableDefaultMetrics, Database } from '@app/core';

/** Prometheus metrics of one api process (its own registry, so test apps don't collide). */
@Injectable()
export class MetricsService implements OnModuleDestroy {
  readonly registry = new Registry();
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly latency: Histogram<'method' | 'route' | 'status'>;
  private readonly stopDefaultMetrics: () => void;

  constructor(cacheMetrics: CacheMetrics, cache: CacheStore, publisher: EventPublisher, db: Database) {
    this.stopDefaultMetrics = collectStoppableDefaultMetrics({
      register: this.registry,
      eventLoopMonitoringPrecision: 10,
    });
    this.requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by route template and status',
      labelNames: ['method', 'route', 'status'],
      registers: [this.registry],
    });
    this.latency = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by route template and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
    const counterFrom = (name: string, help: string, map: Map<string, number>): void => {
      new Gauge({
        name,
        help,
        labelNames: ['cache'],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const [cacheName, n] of map) this.set({ cache: cacheName }, n);
        },
      });
    };
    counterFrom('cache_hits_total', 'Cache hits by cache name', cacheMetrics.hits);
    counterFrom('cache_misses_total', 'Cache misses by cache name', cacheMetrics.misses);
    new Gauge({
      name: 'dependency_up',
      help: 'Dependency state: 1 up, 0 down, -1 disabled',
      labelNames: ['dependency'],
      registers: [this.registry],
      async collect() {
        const v = (s: string): number => (s === 'up' ? 1 : s === 'down' ? 0 : -1);
        const up = await db.ping();
        this.set({ dependency: 'database' }, up ? 1 : 0);
        this.set({ dependency: 'redis' }, v(cache.state()));
        this.set({ dependency: 'rabbitmq' }, v(publisher.state()));
      },
    });
    new Gauge({
      name: 'db_replica_up',
      help: 'Each read replica (DATABASE_REPLICA_URLS): 1 in use, 0 skipped (lagging, stopped or unreachable)',
      labelNames: ['replica', 'state'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const r of db.replicaStatus())
          this.set({ replica: r.replica, state: r.state }, r.state === 'up' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'db_replica_lag_seconds',
      help: "Each read replica's seconds behind the primary at its last check (absent while unknown)",
      labelNames: ['replica'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const r of db.replicaStatus()) {
          if (r.lagSeconds !== null) this.set({ replica: r.replica }, r.lagSeconds);
        }
      },
    });
    new Gauge({
      name: 'outbox_pending_events',
      help: 'Outbox rows neither confirmed by the broker nor applied (the relay finishes them)',
      registers: [this.registry],
      async collect() {
        try {
          this.set(await db.manager.count(OutboxEntity, { where: { status: OutboxStatus.Pending } }));
        } catch {
          /* database down: dependency_up says so */
        }
      },
    });
    new Gauge({
      name: 'events_queue_messages',
      help: 'Messages waiting in each consumer queue and its dead-letter queue (broker-wide)',
      labelNames: ['queue'],
      registers: [this.registry],
      async collect() {
        this.reset();
        const names = ALL_CONSUMER_QUEUES.flatMap((q) => [q.name, deadLetterQueueName(q.name)]);
        const depths = await publisher.queueDepths(names);
        for (const [queue, n] of depths ?? []) this.set({ queue }, n);
      },
    });
  }

  onModuleDestroy(): void {
    this.stopDefaultMetrics();
  }

  observe(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.requests.inc(labels);
    this.latency.observe(labels, seconds);
  }
}
