import type { EntityManager } from 'typeorm';
import { ApplyContext } from './apply-context';

describe('ApplyContext.runAfterCommit', () => {
  it('runs the effects marked last once every other one has settled, failures included', async () => {
    const ctx = new ApplyContext({} as EntityManager);
    const log: string[] = [];
    let release = (): void => undefined;
    const slow = new Promise<void>((r) => (release = r));
    ctx.afterCommit('z-last', () => ({
      last: true,
      run: async () => {
        log.push('last');
      },
    }));
    ctx.afterCommit('slow', () => ({
      run: async () => {
        await slow;
        log.push('slow');
      },
    }));
    ctx.afterCommit('failing', () => ({
      run: () => Promise.reject(new Error('refused')),
    }));
    const done = ctx.runAfterCommit();
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual([]);
    release();
    const err = await done;
    expect(log).toEqual(['slow', 'last']);
    expect(err?.message).toBe('refused');
  });
});
