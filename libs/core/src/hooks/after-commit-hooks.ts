/**
 * Work that must follow a committed write before it answers (read-your-writes, SPEC §7.5), owned by
 * a module the writer must not import: the module above registers here, the writer runs the list.
 * Each domain's hook point subclasses this with its arguments (e.g. `FollowHooks`), so Nest injects
 * one list per point. Hooks run one after another; a failing one is reported to `onError`, never
 * thrown, and the others still run.
 */
export class AfterCommitHooks<A extends unknown[]> {
  private readonly afterCommit: ((...args: A) => Promise<void>)[] = [];

  registerAfterCommit(fn: (...args: A) => Promise<void>): void {
    this.afterCommit.push(fn);
  }

  /** Called by the writer after its commit, before it answers; never throws. */
  async runAfterCommit(args: A, onError: (err: unknown) => void): Promise<void> {
    for (const fn of this.afterCommit) {
      try {
        await fn(...args);
      } catch (err) {
        onError(err);
      }
    }
  }
}
