import type { EntityManager } from 'typeorm';
import { DependencyUnavailableError } from '@app/core';
import { ApplyContext, HandOff } from './apply-context';

describe('ApplyContext.runAfterCommit', () => {
  it('starts every effect at once, waits for all of them and returns the first failure', async () => {
    const ctx = new ApplyContext({} as EntityManager);
    const log: string[] = [];
    let release = (): void => undefined;
    const slow = new Promise<void>((r) => (release = r));
    ctx.afterCommit('slow', () => ({
      run: async () => {
        log.push('slow started');
        await slow;
        log.push('slow done');
      },
    }));
    ctx.afterCommit('fast', () => ({
      run: async () => {
        log.push('fast');
      },
    }));
    ctx.afterCommit('failing', () => ({
      run: () => Promise.reject(new Error('refused')),
    }));
    let settled = false;
    const done = ctx.runAfterCommit().finally(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['slow started', 'fast']);
    expect(settled).toBe(false);
    release();
    const err = await done;
    expect(log).toEqual(['slow started', 'fast', 'slow done']);
    expect(err?.message).toBe('refused');
  });

  it('runs each effect once: a second run finds none', async () => {
    const ctx = new ApplyContext({} as EntityManager);
    let runs = 0;
    ctx.afterCommit('once', () => ({ run: async () => void runs++ }));
    ctx.afterCommit('once', () => ({ run: async () => void (runs += 100) }));
    expect(await ctx.runAfterCommit()).toBeNull();
    expect(await ctx.runAfterCommit()).toBeNull();
    expect(runs).toBe(1);
  });
});

describe('ApplyContext.runAfterCommit with hand-offs', () => {
  const failing = (ctx: ApplyContext, key: string, err: Error): void => {
    ctx.afterCommit(key, () => ({ run: () => Promise.reject(err) }));
  };

  it('returns the hand-off when every failure hands over to the same queue', async () => {
    const ctx = new ApplyContext({} as EntityManager);
    failing(ctx, 'a', new HandOff('hot.worker', 'redis', 'down'));
    failing(ctx, 'b', new HandOff('hot.worker', 'redis', 'down too'));
    const err = await ctx.runAfterCommit();
    expect(err).toBeInstanceOf(HandOff);
    expect((err as HandOff).queue).toBe('hot.worker');
  });

  it('prefers another failure: the event is then retried whole', async () => {
    const ctx = new ApplyContext({} as EntityManager);
    failing(ctx, 'a', new HandOff('hot.worker', 'redis', 'down'));
    failing(ctx, 'b', new Error('broken'));
    expect((await ctx.runAfterCommit())?.message).toBe('broken');
  });

  it('hand-offs to two queues become a plain dependency failure (no one queue can carry the event)', async () => {
    const ctx = new ApplyContext({} as EntityManager);
    failing(ctx, 'a', new HandOff('hot.worker', 'redis', 'down'));
    failing(ctx, 'b', new HandOff('other.worker', 'redis', 'down'));
    const err = await ctx.runAfterCommit();
    expect(err).toBeInstanceOf(DependencyUnavailableError);
    expect(err).not.toBeInstanceOf(HandOff);
  });
});
