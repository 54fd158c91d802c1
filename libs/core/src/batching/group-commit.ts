import { noteWrite } from '../database/read-routing';

/** One submitted item's result: its value, or the error its caller gets. */
export type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

export const succeeded = <R>(value: R): Outcome<R> => ({ ok: true, value });
export const failed = <R = never>(error: unknown): Outcome<R> => ({ ok: false, error });

export interface GroupCommitOptions {
  /** Most items one flush takes. */
  maxBatch: number;
  /** Most flushes running at once; further items wait and join the next one. */
  maxInFlight: number;
}

/**
 * Group commit: concurrent callers' items are written together, one flush (one transaction, one
 * outbox insert, one round of publishes) per batch instead of one per item. No timer and no wait
 * for a batch to fill: an item starts a flush at once when a slot is free, and items that arrive
 * while all slots are busy form the next batch, so batches grow with the load and a lone request
 * pays nothing. `flush` returns one outcome per item, in order; if it throws, every item of the
 * batch gets that error. A flush holds its slot until it returns, or until it calls `release`
 * (e.g. once its transaction has committed, while it still waits for the broker's confirms), so
 * the next batch's transaction can start meanwhile.
 */
export class GroupCommit<T, R> {
  private queue: { item: T; settle: (o: Outcome<R>) => void }[] = [];
  private inFlight = 0;

  constructor(
    private readonly flush: (items: T[], release: () => void) => Promise<Outcome<R>[]>,
    private readonly options: GroupCommitOptions,
  ) {}

  submit(item: T): Promise<R> {
    // The batch's transaction runs in whichever caller's context flushes it: mark each caller's.
    noteWrite();
    return new Promise<R>((resolve, reject) => {
      this.queue.push({
        item,
        settle: (o) =>
          o.ok ? resolve(o.value) : reject(o.error instanceof Error ? o.error : new Error(String(o.error))),
      });
      this.pump();
    });
  }

  /** Items waiting for a slot (for tests and metrics). */
  get waiting(): number {
    return this.queue.length;
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight++;
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        this.inFlight--;
        this.pump();
      };
      void this.run(batch, release).finally(release);
    }
  }

  private async run(
    batch: { item: T; settle: (o: Outcome<R>) => void }[],
    release: () => void,
  ): Promise<void> {
    let outcomes: Outcome<R>[];
    try {
      outcomes = await this.flush(
        batch.map((b) => b.item),
        release,
      );
    } catch (err) {
      outcomes = batch.map(() => failed(err));
    }
    batch.forEach((b, i) => b.settle(outcomes[i] ?? failed(new Error('group commit: no outcome'))));
  }
}
