import { Logger } from '@nestjs/common';
import type { Database } from '../database/database.service';
import { PeriodicDuty } from './periodic-duty';

/** The `leases` table in memory, and a database that can be "down". */
class FakeDb {
  dialect = 'sqlite' as const;
  down = false;
  readonly lease = new Map<string, { holder: string; expiresAt: number }>();
  waited = 0;

  execute(sql: string, params: unknown[]): Promise<number> {
    if (this.down) return Promise.reject(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }));
    if (sql.startsWith('INSERT')) {
      const name = params[0] as string;
      if (!this.lease.has(name)) this.lease.set(name, { holder: '', expiresAt: 0 });
      return Promise.resolve(1);
    }
    if (sql.includes('expires_at = 0')) {
      const [, name, holder] = params as [string, string, string];
      const row = this.lease.get(name);
      if (row?.holder === holder) this.lease.set(name, { holder: '', expiresAt: 0 });
      return Promise.resolve(1);
    }
    const [holder, expiresAt, name, same, now] = params as [string, number, string, string, number];
    const row = this.lease.get(name)!;
    if (row.holder !== same && row.expiresAt >= now) return Promise.resolve(0);
    this.lease.set(name, { holder, expiresAt });
    return Promise.resolve(1);
  }

  async waitUntilReachable(): Promise<boolean> {
    this.waited++;
    while (this.down) await new Promise((r) => setTimeout(r, 5));
    return true;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('PeriodicDuty', () => {
  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  it('runs its pass repeatedly once started, one at a time, and reports what it did', async () => {
    const db = new FakeDb();
    let inFlight = 0;
    let most = 0;
    let runs = 0;
    const duty = new PeriodicDuty({
      name: 'test',
      db: db as unknown as Database,
      everyMs: 10,
      run: async () => {
        inFlight++;
        most = Math.max(most, inFlight);
        await sleep(15);
        inFlight--;
        return ++runs;
      },
      report: (n) => `run ${String(n)}`,
    });
    duty.start();
    await sleep(120);
    await duty.stop();
    expect(runs).toBeGreaterThanOrEqual(3);
    expect(most).toBe(1);
    expect(Logger.prototype.log).toHaveBeenCalledWith('run 1');
    const after = runs;
    await sleep(50);
    expect(runs).toBe(after); // stopped
  });

  it('with a lease, only the holder runs; the other takes over when the holder stops', async () => {
    const db = new FakeDb();
    const runs = { a: 0, b: 0 };
    const make = (who: 'a' | 'b'): PeriodicDuty => {
      const duty = new PeriodicDuty({
        name: who,
        db: db as unknown as Database,
        everyMs: 10,
        lease: { name: 'relay', ttlMs: 10_000 },
        run: () => Promise.resolve(runs[who]++),
      });
      // Two processes: two holders (the default is one per process).
      (duty as unknown as { lease: { holder: string } }).lease.holder = who;
      return duty;
    };
    const a = make('a');
    const b = make('b');
    a.start();
    await sleep(30);
    b.start();
    await sleep(80);
    expect(runs.a).toBeGreaterThan(0);
    expect(runs.b).toBe(0);
    await a.stop(); // releases the lease
    await sleep(60);
    expect(runs.b).toBeGreaterThan(0);
    await b.stop();
  });

  it('waits out a database outage instead of failing every round, then carries on', async () => {
    const db = new FakeDb();
    let runs = 0;
    const duty = new PeriodicDuty({
      name: 'test',
      db: db as unknown as Database,
      everyMs: 5,
      lease: { name: 'x', ttlMs: 1000 },
      run: () => Promise.resolve(runs++),
    });
    db.down = true;
    duty.start();
    await sleep(60);
    expect(runs).toBe(0);
    expect(db.waited).toBe(1); // one wait, not one failure per round
    db.down = false;
    await sleep(60);
    expect(runs).toBeGreaterThan(0);
    await duty.stop();
  });

  it('`stopping` tells a long pass to end early', async () => {
    const db = new FakeDb();
    let chunks = 0;
    const duty: PeriodicDuty = new PeriodicDuty({
      name: 'test',
      db: db as unknown as Database,
      everyMs: 1,
      run: async () => {
        while (!duty.stopping) {
          chunks++;
          await sleep(5);
        }
      },
    });
    expect(duty.stopping).toBe(false);
    duty.start();
    await sleep(30);
    await duty.stop();
    expect(chunks).toBeGreaterThan(0);
    expect(duty.stopping).toBe(true);
  });
});
