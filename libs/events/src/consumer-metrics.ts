import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export type ConsumerOutcome = 'consumed' | 'applied' | 'retried' | 'waited' | 'dead_lettered' | 'requeued';

/**
 * What this process's consumers did, per queue and outcome: consumed (delivered), applied,
 * retried (a failure of the message itself, counted against MAX_DELIVERIES), waited (put back
 * because a dependency was unavailable, not counted), requeued (handed back while the database
 * was down), dead_lettered; batch sizes; whether consumption is paused. Prometheus metrics in
 * {@link registry} (the worker's `/metrics`), and plain reads for `/healthz` and tests.
 */
@Injectable()
export class ConsumerMetrics {
  readonly registry = new Registry();
  private readonly counts = new Map<string, number>();
  private readonly events = new Counter({
    name: 'worker_events_total',
    help: 'Messages by consumer queue and outcome',
    labelNames: ['queue', 'outcome'],
    registers: [this.registry],
  });
  private readonly batches = new Histogram({
    name: 'worker_batch_size',
    help: 'Events applied together in one transaction',
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [this.registry],
  });
  private readonly pausedGauge = new Gauge({
    name: 'worker_consumption_paused',
    help: '1 while consumption is paused because the database is unreachable',
    registers: [this.registry],
  });
  private readonly pausesTotal = new Counter({
    name: 'worker_pauses_total',
    help: 'Times consumption paused for an unreachable database',
    registers: [this.registry],
  });
  private pausedNow = false;

  inc(queue: string, outcome: ConsumerOutcome, n = 1): void {
    const key = `${queue}\u0000${outcome}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
    this.events.inc({ queue, outcome }, n);
  }

  /** A batch applied together. */
  batch(size: number): void {
    this.batches.observe(size);
  }

  set paused(paused: boolean) {
    if (paused && !this.pausedNow) this.pausesTotal.inc();
    this.pausedNow = paused;
    this.pausedGauge.set(paused ? 1 : 0);
  }

  get paused(): boolean {
    return this.pausedNow;
  }

  count(queue: string, outcome: ConsumerOutcome): number {
    return this.counts.get(`${queue}\u0000${outcome}`) ?? 0;
  }

  total(outcome: ConsumerOutcome): number {
    let n = 0;
    for (const [k, v] of this.counts) if (k.endsWith(`\u0000${outcome}`)) n += v;
    return n;
  }
}
