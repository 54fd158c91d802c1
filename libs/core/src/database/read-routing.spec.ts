import {
  inReplicaRead,
  noteWrite,
  outsideReplicaRead,
  ReadRouting,
  ReplicaReader,
  type SharedWriteMarks,
} from './read-routing';

class FakeMarks implements SharedWriteMarks {
  readonly marked = new Map<number, number>();
  answer: 'store' | 'down' = 'store';
  mark(accountId: number, ttlMs: number): Promise<boolean> {
    this.marked.set(accountId, ttlMs);
    return Promise.resolve(true);
  }
  isMarked(accountId: number): Promise<boolean | undefined> {
    return Promise.resolve(this.answer === 'down' ? undefined : this.marked.has(accountId));
  }
}

describe('ReadRouting', () => {
  const routing = (replicas = 1): ReadRouting => new ReadRouting(replicas, 5, 1000);

  it('sticks a writer to the primary for max lag + one check interval + 1 s', () => {
    expect(routing().stickyMs).toBe(7000);
  });

  it('without replicas, or outside a request, every read is the primary', async () => {
    expect(await routing(0).runSession({ wrote: false }, () => routing(0).mayUseReplica())).toBe(false);
    expect(await routing().mayUseReplica()).toBe(false);
  });

  it('an anonymous request, or a caller that has not written, may read a replica', async () => {
    const r = routing();
    expect(await r.runSession({ wrote: false }, () => r.mayUseReplica())).toBe(true);
    expect(await r.runSession({ accountId: 7, wrote: false }, () => r.mayUseReplica())).toBe(true);
  });

  it('a request that wrote reads the primary from then on, and its caller does for the sticky window', async () => {
    const r = routing();
    const session = { accountId: 7, wrote: false };
    await r.runSession(session, async () => {
      expect(await r.mayUseReplica()).toBe(true);
      noteWrite();
      expect(await r.mayUseReplica()).toBe(false);
    });
    await r.endSession(session);
    expect(await r.runSession({ accountId: 7, wrote: false }, () => r.mayUseReplica())).toBe(false);
    expect(await r.runSession({ accountId: 8, wrote: false }, () => r.mayUseReplica())).toBe(true);
    // An anonymous request that wrote marks nobody.
    await r.endSession({ wrote: true });
    expect(await r.runSession({ wrote: false }, () => r.mayUseReplica())).toBe(true);
  });

  it('the sticky window ends', async () => {
    const r = new ReadRouting(1, 0, 0); // stickyMs = 1000
    jest.useFakeTimers({ now: 1_000_000, doNotFake: ['nextTick', 'setImmediate'] });
    try {
      await r.markWrite(7);
      expect(await r.runSession({ accountId: 7, wrote: false }, () => r.mayUseReplica())).toBe(false);
      jest.setSystemTime(1_001_001);
      expect(await r.runSession({ accountId: 7, wrote: false }, () => r.mayUseReplica())).toBe(true);
    } finally {
      jest.useRealTimers();
    }
  });

  it('shares marks across processes, and reads the primary while the shared store cannot tell', async () => {
    const here = routing();
    const there = routing();
    const marks = new FakeMarks();
    here.shareWith(marks);
    there.shareWith(marks);
    await here.endSession({ accountId: 7, wrote: true });
    expect(marks.marked.get(7)).toBe(here.stickyMs);
    expect(await there.runSession({ accountId: 7, wrote: false }, () => there.mayUseReplica())).toBe(false);
    expect(await there.runSession({ accountId: 8, wrote: false }, () => there.mayUseReplica())).toBe(true);
    marks.answer = 'down';
    expect(await there.runSession({ accountId: 8, wrote: false }, () => there.mayUseReplica())).toBe(false);
    expect(await there.runSession({ wrote: false }, () => there.mayUseReplica())).toBe(true);
  });

  it('asks the shared store once per request', async () => {
    const r = routing();
    const marks = new FakeMarks();
    const spy = jest.spyOn(marks, 'isMarked');
    r.shareWith(marks);
    await r.runSession({ accountId: 9, wrote: false }, async () => {
      await r.mayUseReplica();
      await r.mayUseReplica();
    });
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it('onPrimary forces the primary inside a session that could read a replica', async () => {
    const r = routing();
    await r.runSession({ wrote: false }, async () => {
      expect(await r.onPrimary(() => r.mayUseReplica())).toBe(false);
      expect(await r.mayUseReplica()).toBe(true);
    });
  });
});

describe('ReplicaReader', () => {
  it('runs the statement as usual, inside a replica read only when routing allows', async () => {
    const r = new ReadRouting(1, 5, 1000);
    const seen: boolean[] = [];
    const reader = new ReplicaReader(r, <T>() => {
      seen.push(inReplicaRead());
      return Promise.resolve([] as T[]);
    });
    await reader.query('SELECT 1');
    await r.runSession({ wrote: false }, () => reader.query('SELECT 1'));
    await r.runSession({ wrote: true }, () => reader.query('SELECT 1'));
    expect(seen).toEqual([false, true, false]);
  });

  it('what a replica read starts outside of it (a write) takes primary connections', async () => {
    const r = new ReadRouting(1, 5, 1000);
    const reader = new ReplicaReader(r, () => Promise.resolve([]));
    const inside = await r.runSession({ wrote: false }, () =>
      reader.run(async () => [inReplicaRead(), outsideReplicaRead(() => inReplicaRead())]),
    );
    expect(inside).toEqual([true, false]);
  });
});
