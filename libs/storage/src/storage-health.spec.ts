import { Logger } from '@nestjs/common';
import type { FileStorage, StorageState } from './file-storage';
import { StorageHealth } from './storage-health';

/** A storage whose ping answers what the test says, when it says. */
function fakeStorage() {
  const pending: { signal: AbortSignal; resolve: (s: StorageState) => void }[] = [];
  const storage = {
    ping: jest.fn(
      (signal: AbortSignal) => new Promise<StorageState>((resolve) => pending.push({ signal, resolve })),
    ),
  };
  return { storage: storage as unknown as FileStorage, ping: storage.ping, pending };
}

describe('StorageHealth', () => {
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose', 'fatal']));

  it('probes once for every caller meanwhile, and reuses the answer for ttlMs', async () => {
    const { storage, ping, pending } = fakeStorage();
    const health = new StorageHealth(storage, { ttlMs: 60_000, timeoutMs: 1000 });
    const a = health.state();
    const b = health.state();
    expect(ping).toHaveBeenCalledTimes(1);
    pending[0].resolve('up');
    expect(await Promise.all([a, b])).toEqual(['up', 'up']);
    expect(await health.state()).toBe('up');
    expect(ping).toHaveBeenCalledTimes(1);
  });

  it('probes again once the answer is older than ttlMs', async () => {
    const { storage, ping, pending } = fakeStorage();
    const health = new StorageHealth(storage, { ttlMs: 0, timeoutMs: 1000 });
    const first = health.state();
    pending[0].resolve('up');
    expect(await first).toBe('up');
    const second = health.state();
    expect(ping).toHaveBeenCalledTimes(2);
    pending[1].resolve('down');
    expect(await second).toBe('down');
  });

  it('a probe that does not answer within timeoutMs is down, and its signal aborts it', async () => {
    const { storage, pending } = fakeStorage();
    const health = new StorageHealth(storage, { ttlMs: 0, timeoutMs: 50 });
    const started = Date.now();
    expect(await health.state()).toBe('down');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(pending[0].signal.aborted).toBe(true);
  });

  it('a probe that throws is down', async () => {
    const storage = { ping: jest.fn().mockRejectedValue(new Error('boom')) } as unknown as FileStorage;
    expect(await new StorageHealth(storage, { ttlMs: 0, timeoutMs: 1000 }).state()).toBe('down');
  });
});
