import { Injectable } from '@nestjs/common';

/** Hit/miss counters by cache name; the api exports them in /metrics. */
@Injectable()
export class CacheMetrics {
  readonly hits = new Map<string, number>();
  readonly misses = new Map<string, number>();

  hit(name: string): void {
    this.hits.set(name, (this.hits.get(name) ?? 0) + 1);
  }

  miss(name: string): void {
    this.misses.set(name, (this.misses.get(name) ?? 0) + 1);
  }
}
