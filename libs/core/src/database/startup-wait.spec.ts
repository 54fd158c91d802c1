import { describeError, whileDatabaseUnreachable } from './startup-wait';

const refused = (): Error =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), { code: 'ECONNREFUSED' });

describe('whileDatabaseUnreachable', () => {
  it('retries while the database is unreachable, with growing delays, and returns the first success', async () => {
    let tries = 0;
    const delays: number[] = [];
    const result = await whileDatabaseUnreachable(
      async () => {
        if (++tries < 3) throw refused();
        return 'migrated';
      },
      10_000,
      (_err, ms) => delays.push(ms),
    );
    expect(result).toBe('migrated');
    expect(tries).toBe(3);
    expect(delays).toEqual([250, 500]);
  });

  it('throws any other error at once', async () => {
    let tries = 0;
    const bad = Object.assign(new Error('Access denied'), { code: 'ER_ACCESS_DENIED_ERROR' });
    await expect(
      whileDatabaseUnreachable(
        async () => {
          tries++;
          throw bad;
        },
        10_000,
        () => undefined,
      ),
    ).rejects.toBe(bad);
    expect(tries).toBe(1);
  });

  it('gives up with the last error once the wait is over (0: no retry)', async () => {
    let tries = 0;
    const fail = async (): Promise<never> => {
      tries++;
      throw refused();
    };
    await expect(whileDatabaseUnreachable(fail, 0, () => undefined)).rejects.toThrow(/ECONNREFUSED/);
    expect(tries).toBe(1);
    tries = 0;
    const started = Date.now();
    await expect(whileDatabaseUnreachable(fail, 600, () => undefined)).rejects.toThrow(/ECONNREFUSED/);
    expect(tries).toBeGreaterThanOrEqual(3);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('describes an error in one line, with its code when the message lacks it', () => {
    expect(describeError(refused())).toBe('connect ECONNREFUSED 127.0.0.1:3306');
    expect(describeError(Object.assign(new AggregateError([]), { code: 'ECONNREFUSED' }))).toBe(
      'AggregateError ECONNREFUSED',
    );
  });
});
