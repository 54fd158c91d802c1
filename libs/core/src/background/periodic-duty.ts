import { Logger } from '@nestjs/common';
import type { Database } from '../database/database.service';
import { isDatabaseUnavailable } from '../database/database.service';
import { Lease } from '../database/lease';

export interface PeriodicDutyOptions {
  /** For the logs. */
  name: string;
  /** Pause between passes (ms); each pause is jittered by ±`jitter` of it, so instances drift apart. */
  everyMs: number;
  jitter?: number;
  /** One pass. Its result is handed to `report`. */
  run: () => Promise<unknown>;
  /** What to log of a pass's result (nothing when it returns undefined). */
  report?: (result: unknown) => string | undefined;
  /**
   * When set, only the holder of this lease (renewed before every pass) runs the duty among
   * several processes; another takes over `ttlMs` after the holder stops renewing.
   */
  lease?: { name: string; ttlMs: number };
  /** Database the lease lives in; also probed when a pass fails because the database is down. */
  db: Database;
}

/**
 * A background duty run every few seconds or minutes (the outbox relay, the event tables' pruning,
 * the reconciliation, the upload janitor): jittered timer, one pass at a time, an optional lease
 * so that one process of many does it, and a database outage waited out by probing with backoff
 * instead of failing every round. `stop()` waits for the pass in progress and releases the lease.
 * Timers are unref'd: a duty never keeps a process alive.
 */
export class PeriodicDuty {
  private readonly logger: Logger;
  private readonly lease: Lease | null;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private active = false;
  private stopRequested = false;

  constructor(private readonly options: PeriodicDutyOptions) {
    this.logger = new Logger(options.name);
    this.lease = options.lease ? new Lease(options.db, options.lease.name, options.lease.ttlMs) : null;
  }

  get started(): boolean {
    return this.active;
  }

  /** True once `stop()` was called (a long pass may check it between chunks and end early). */
  get stopping(): boolean {
    return this.stopRequested;
  }

  start(): void {
    if (this.active) return;
    this.active = true;
    this.stopRequested = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    const wasActive = this.active;
    this.active = false;
    this.stopRequested = true;
    clearTimeout(this.timer);
    await this.running;
    // A clean stop hands the duty over at once (a crash hands it over when the lease expires).
    if (wasActive && this.lease) await this.lease.release().catch(() => undefined);
  }

  private schedule(): void {
    if (!this.active) return;
    const jitter = this.options.jitter ?? 0.25;
    this.timer = setTimeout(
      () => {
        this.running = this.pass().finally(() => this.schedule());
      },
      this.options.everyMs * (1 - jitter + Math.random() * 2 * jitter),
    );
    this.timer.unref();
  }

  private async pass(): Promise<void> {
    try {
      if (this.lease && !(await this.lease.acquire())) return;
      const result = await this.options.run();
      const line = this.options.report?.(result);
      if (line) this.logger.log(line);
    } catch (err) {
      this.logger.warn(`${this.options.name} failed: ${(err as Error).message}`);
      // An outage: wait it out (probing with backoff), then carry on.
      if (isDatabaseUnavailable(err)) await this.options.db.waitUntilReachable(() => !this.active);
    }
  }
}
