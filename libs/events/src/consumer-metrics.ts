import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export type ConsumerOutcome =
  'consumed' | 'applied' | 'retried' | 'waited' | 'handed_off' | 'dead_lettered' | 'requeued';

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
  /** Counts by queue and outcome, kept here; the Prometheus counter is filled from them at scrape. */
  private readonly counts = new Map<string, { queue: string; outcome: ConsumerOutcome; n: number }>();
  private readonly events = new Counter({
    name: 'worker_events_total',
    help: 'Messages by consumer queue and outcome',
    labelNames: ['queue', 'outcome'],
    registers: [this.registry],
    // Counted per message on the hot path: a map update here, the labelled series only at scrape.
    collect: () => {
      this.events.reset();
      for (const c of this.counts.values()) this.events.inc({ queue: c.queue, outcome: c.outcome }, c.n);
    },
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
    const c = this.counts.get(key);
    if (c) c.n += n;
    else this.counts.set(key, { queue, outcome, n });
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
    return this.counts.get(`${queue}\u0000${outcome}`)?.n ?? 0;
  }

  total(outcome: ConsumerOutcome): number {
    let n = 0;
    for (const c of this.counts.values()) if (c.outcome === outcome) n += c.n;
    return n;
  }
}
