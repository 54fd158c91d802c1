import { monitorEventLoopDelay } from 'node:perf_hooks';
import { BcryptPool } from './bcrypt-pool';

describe('BcryptPool', () => {
  let pool: BcryptPool;

  afterEach(async () => {
    await pool.close();
  });

  it('hashes with the given cost and verifies the result', async () => {
    pool = new BcryptPool(1);
    const hash = await pool.hash('correct horse', 4);
    expect(hash).toMatch(/^\$2b\$04\$/);
    await expect(pool.compare('correct horse', hash)).resolves.toBe(true);
    await expect(pool.compare('wrong horse', hash)).resolves.toBe(false);
  });

  it('verifies hashes written by the previous native hasher ($2b$, cost 10) and by $2a$ libraries', async () => {
    pool = new BcryptPool(1);
    // Made by @node-rs/bcrypt 2.0 (cost 10) and by bcryptjs 2 ($2a$) for "password123".
    await expect(
      pool.compare('password123', '$2b$10$ztwnooT7.aHppYYASOirdOrJfiYJWi6A3iYWXUicZQv1BxdYPhusS'),
    ).resolves.toBe(true);
    const legacy = (await pool.hash('password123', 4)).replace(/^\$2b\$/, '$2a$');
    await expect(pool.compare('password123', legacy)).resolves.toBe(true);
  });

  it('runs at most `size` hashes at once and queues the rest in order', async () => {
    pool = new BcryptPool(2);
    const all = Array.from({ length: 5 }, (_, i) => pool.hash(`p${i}`, 4));
    expect(pool.pending).toBe(5);
    expect(pool.running).toBe(2);
    const hashes = await Promise.all(all);
    expect(new Set(hashes).size).toBe(5);
    expect(pool.pending).toBe(0);
  });

  it('keeps the event loop free while hashing', async () => {
    pool = new BcryptPool(1);
    const lag = monitorEventLoopDelay({ resolution: 5 });
    lag.enable();
    await Promise.all([pool.hash('a', 10), pool.hash('b', 10)]);
    lag.disable();
    // Two cost-10 hashes on this thread would block it for ~120 ms.
    expect(lag.max / 1e6).toBeLessThan(50);
  });

  it('rejects calls after close', async () => {
    pool = new BcryptPool(1);
    await pool.close();
    await expect(pool.hash('x', 4)).rejects.toThrow('closed');
  });
});
