import { hashSync } from 'bcryptjs';
import { performance } from 'node:perf_hooks';
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
    await pool.hash('warm-up', 4); // the worker's start is not what is measured
    // What one cost-10 hash costs this thread, on this host and under its load now.
    const t0 = performance.now();
    hashSync('c', 10);
    const oneHash = performance.now() - t0;
    // The time this thread's event loop was busy (not waiting for I/O) while the pool hashed: a
    // GC pause or the OS descheduling an idle thread adds little, unlike the maximum delay of a
    // timer (measured: under 10 ms idle, up to ~0.15 × `oneHash` on a loaded host); two hashes
    // run on this thread would add twice `oneHash`.
    const before = performance.eventLoopUtilization();
    await Promise.all([pool.hash('a', 10), pool.hash('b', 10)]);
    const busy = performance.eventLoopUtilization(before).active;
    expect(busy).toBeLessThan(oneHash);
  });

  it('rejects calls after close', async () => {
    pool = new BcryptPool(1);
    await pool.close();
    await expect(pool.hash('x', 4)).rejects.toThrow('closed');
  });
});
