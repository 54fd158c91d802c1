import { Injectable } from '@nestjs/common';

/**
 * Messages this process dead-lettered, by queue (for `/metrics` or `/healthz`). The broker's
 * `<queue>.dlq` depth is the durable record; this is the process-local rate.
 */
@Injectable()
export class DeadLetterCounter {
  private readonly byQueue = new Map<string, number>();

  inc(queue: string): void {
    this.byQueue.set(queue, (this.byQueue.get(queue) ?? 0) + 1);
  }

  get total(): number {
    let n = 0;
    for (const v of this.byQueue.values()) n += v;
    return n;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.byQueue);
  }
}
