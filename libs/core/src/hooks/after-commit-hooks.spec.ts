import { AfterCommitHooks } from './after-commit-hooks';

describe('AfterCommitHooks', () => {
  it('runs every hook in order with the arguments; a failing one is reported and the rest still run', async () => {
    const hooks = new AfterCommitHooks<[id: number, name: string]>();
    const seen: string[] = [];
    hooks.registerAfterCommit(async (id, name) => {
      seen.push(`a${id}${name}`);
    });
    hooks.registerAfterCommit(async () => {
      throw new Error('boom');
    });
    hooks.registerAfterCommit(async (id) => {
      seen.push(`c${id}`);
    });
    const errors: unknown[] = [];
    await expect(hooks.runAfterCommit([7, 'x'], (err) => errors.push(err))).resolves.toBeUndefined();
    expect(seen).toEqual(['a7x', 'c7']);
    expect(errors).toEqual([new Error('boom')]);
  });

  it('with no hook registered it does nothing', async () => {
    const onError = jest.fn();
    await new AfterCommitHooks<[]>().runAfterCommit([], onError);
    expect(onError).not.toHaveBeenCalled();
  });
});
