import { guard, STATEMENT_TIMEOUT, type Guardable } from './bounded-mysql';

type Cb = (err: Error | null, rows?: unknown) => void;

/** A connection whose statements never answer (a partition), recording what happens in order. */
class SilentConnection {
  readonly events: string[] = [];
  throwOnExecute: Error | undefined;
  query(sql: string, params: unknown[], cb: Cb): void {
    void cb;
    this.events.push(`query ${sql}`);
  }
  execute(sql: string, params: unknown[], cb: Cb): void {
    void cb;
    if (this.throwOnExecute) throw this.throwOnExecute;
    this.events.push(`execute ${sql}`);
  }
  destroy(): void {
    this.events.push('destroy');
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('guard (statement deadlines)', () => {
  it.each(['query', 'execute'] as const)(
    '%s: past its deadline the connection is destroyed, then the caller gets the timeout',
    async (method) => {
      const conn = new SilentConnection();
      guard(conn as unknown as Guardable, 50);
      const answered = new Promise<Error | null>((resolve) =>
        conn[method]('SELECT 1', [], (err) => {
          conn.events.push('callback');
          resolve(err);
        }),
      );
      const err = await answered;
      expect((err as { code?: string } | null)?.code).toBe(STATEMENT_TIMEOUT);
      // Destroyed first: a caller releasing it in the callback cannot hand it to a waiting one.
      expect(conn.events).toEqual([`${method} SELECT 1`, 'destroy', 'callback']);
    },
  );

  it('a call mysql2 refuses synchronously leaves no deadline behind', async () => {
    const conn = new SilentConnection();
    conn.throwOnExecute = new TypeError('Bind parameters must not contain function(s)');
    guard(conn as unknown as Guardable, 50);
    const cb = jest.fn();
    expect(() => conn.execute('SELECT ?', [() => 1], cb)).toThrow(TypeError);
    await sleep(250);
    expect(cb).not.toHaveBeenCalled();
    expect(conn.events).toEqual([]);
  });
});
