import { failed, GroupCommit, succeeded, type Outcome } from './group-commit';

/** A flush that records its batches and finishes only when the test says so. */
function controlledFlush(): {
  flush: (items: number[]) => Promise<Outcome<number>[]>;
  batches: number[][];
  finish: (i: number, outcomes?: Outcome<number>[] | Error) => void;
} {
  const batches: number[][] = [];
  const pending: ((r: Outcome<number>[] | Error) => void)[] = [];
  return {
    batches,
    flush: (items) =>
      new Promise((resolve, reject) => {
        batches.push(items);
        pending.push((r) => (r instanceof Error ? reject(r) : resolve(r)));
      }),
    finish: (i, outcomes) => pending[i](outcomes ?? batches[i].map((x) => succeeded(x * 10))),
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('GroupCommit', () => {
  it('a lone item is flushed at once, alone', async () => {
    const c = controlledFlush();
    const gc = new GroupCommit(c.flush, { maxBatch: 10, maxInFlight: 1 });
    const p = gc.submit(1);
    expect(c.batches).toEqual([[1]]);
    c.finish(0);
    await expect(p).resolves.toBe(10);
  });

  it('items arriving while the slots are busy form the next batch, in order, up to maxBatch', async () => {
    const c = controlledFlush();
    const gc = new GroupCommit(c.flush, { maxBatch: 3, maxInFlight: 1 });
    const results = [1, 2, 3, 4, 5].map((n) => gc.submit(n));
    expect(c.batches).toEqual([[1]]);
    expect(gc.waiting).toBe(4);
    c.finish(0);
    await tick();
    expect(c.batches).toEqual([[1], [2, 3, 4]]);
    c.finish(1);
    await tick();
    expect(c.batches).toEqual([[1], [2, 3, 4], [5]]);
    c.finish(2);
    await expect(Promise.all(results)).resolves.toEqual([10, 20, 30, 40, 50]);
  });

  it('runs up to maxInFlight batches at once', async () => {
    const c = controlledFlush();
    const gc = new GroupCommit(c.flush, { maxBatch: 10, maxInFlight: 2 });
    const results = [1, 2, 3, 4].map((n) => gc.submit(n));
    expect(c.batches).toEqual([[1], [2]]);
    c.finish(1);
    await tick();
    expect(c.batches).toEqual([[1], [2], [3, 4]]);
    c.finish(0);
    c.finish(2);
    await expect(Promise.all(results)).resolves.toEqual([10, 20, 30, 40]);
  });

  it('a flush that releases its slot early lets the next batch start before it finishes', async () => {
    const batches: number[][] = [];
    const releases: (() => void)[] = [];
    const finishers: (() => void)[] = [];
    const gc = new GroupCommit<number, number>(
      (items, release) =>
        new Promise((resolve) => {
          batches.push(items);
          releases.push(release);
          finishers.push(() => resolve(items.map((x) => succeeded(x))));
        }),
      { maxBatch: 10, maxInFlight: 1 },
    );
    const a = gc.submit(1);
    const b = gc.submit(2);
    const c = gc.submit(3);
    expect(batches).toEqual([[1]]);
    releases[0](); // "committed": waiting for confirms does not hold the slot
    releases[0](); // twice is harmless: still one slot
    expect(batches).toEqual([[1], [2, 3]]);
    const d = gc.submit(4);
    expect(batches).toHaveLength(2); // the one slot is the second batch's now
    finishers[1]();
    await tick();
    expect(batches).toEqual([[1], [2, 3], [4]]);
    finishers[0]();
    finishers[2]();
    await expect(Promise.all([a, b, c, d])).resolves.toEqual([1, 2, 3, 4]);
  });

  it('each item gets its own outcome', async () => {
    const c = controlledFlush();
    const gc = new GroupCommit(c.flush, { maxBatch: 10, maxInFlight: 1 });
    const first = gc.submit(0);
    const a = gc.submit(1);
    const b = gc.submit(2);
    c.finish(0);
    await tick();
    c.finish(1, [failed(new Error('409 for 1')), succeeded(2)]);
    await expect(first).resolves.toBe(0);
    await expect(a).rejects.toThrow('409 for 1');
    await expect(b).resolves.toBe(2);
  });

  it('a flush that throws fails every item of its batch, and the next batch still runs', async () => {
    const c = controlledFlush();
    const gc = new GroupCommit(c.flush, { maxBatch: 10, maxInFlight: 1 });
    const a = gc.submit(1);
    const b = gc.submit(2);
    const d = gc.submit(3);
    c.finish(0, new Error('database down'));
    await expect(a).rejects.toThrow('database down');
    await tick();
    c.finish(1, new Error('still down'));
    await expect(b).rejects.toThrow('still down');
    await expect(d).rejects.toThrow('still down');
    const e = gc.submit(4);
    c.finish(2);
    await expect(e).resolves.toBe(40);
  });

  it('a flush that returns too few outcomes fails the items left without one', async () => {
    const c = controlledFlush();
    const gc = new GroupCommit(c.flush, { maxBatch: 10, maxInFlight: 1 });
    const first = gc.submit(0);
    const a = gc.submit(1);
    const b = gc.submit(2);
    c.finish(0);
    await first;
    await tick();
    c.finish(1, [succeeded(1)]);
    await expect(a).resolves.toBe(1);
    await expect(b).rejects.toThrow('no outcome');
  });
});
