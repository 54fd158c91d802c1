import type { VideoListGeneration } from '@app/video';
import type { CachedPage } from './feed-page-cache';
import type { FeedRepository } from './feed.repository';
import { SharedPages } from './shared-pages';

/** SharedPages with a generation and a replica choice the test sets (no Redis, no database). */
function pages(): {
  shared: SharedPages;
  state: { generation: string | undefined; replica: boolean | Promise<boolean> };
} {
  const state: { generation: string | undefined; replica: boolean | Promise<boolean> } = {
    generation: 'g1',
    replica: false,
  };
  const generation = { current: () => Promise.resolve(state.generation) } as unknown as VideoListGeneration;
  const repo = { readsReplica: () => state.replica } as unknown as FeedRepository;
  return { shared: new SharedPages(generation, repo), state };
}

const page = (json: string): CachedPage => ({ json, ids: [] });

describe('SharedPages', () => {
  it('holds a built page for later requests of the same key under the same generation', async () => {
    const { shared } = pages();
    const build = jest.fn(() => Promise.resolve(page('a')));
    expect((await shared.get('k', build)).json).toBe('a');
    expect((await shared.get('k', build)).json).toBe('a');
    expect(build).toHaveBeenCalledTimes(1);
    // Another key is its own page.
    expect((await shared.get('other', () => Promise.resolve(page('b')))).json).toBe('b');
  });

  it('a request while the page is built joins that build', async () => {
    const { shared } = pages();
    let finish: (p: CachedPage) => void = () => undefined;
    const build = jest.fn(() => new Promise<CachedPage>((resolve) => (finish = resolve)));
    const first = shared.get('k', build);
    const second = shared.get('k', build);
    await new Promise((r) => setImmediate(r));
    finish(page('a'));
    expect([(await first).json, (await second).json]).toEqual(['a', 'a']);
    expect(build).toHaveBeenCalledTimes(1);
  });

  it('a new generation drops what was held, and a build started under the old one is not held', async () => {
    const { shared, state } = pages();
    await shared.get('k', () => Promise.resolve(page('old')));
    state.generation = 'g2';
    expect((await shared.get('k', () => Promise.resolve(page('new')))).json).toBe('new');
    // A build that started under g2 and ends after g3 came: served to its callers, not held.
    let finish: (p: CachedPage) => void = () => undefined;
    const slow = shared.get('slow', () => new Promise<CachedPage>((resolve) => (finish = resolve)));
    await new Promise((r) => setImmediate(r));
    state.generation = 'g3';
    expect((await shared.get('k', () => Promise.resolve(page('g3')))).json).toBe('g3');
    finish(page('from g2'));
    expect((await slow).json).toBe('from g2');
    expect((await shared.get('slow', () => Promise.resolve(page('rebuilt')))).json).toBe('rebuilt');
  });

  it('a page read from a replica is not handed to a caller whose reads go to the primary, nor the other way', async () => {
    const { shared, state } = pages();
    state.replica = Promise.resolve(true);
    await shared.get('k', () => Promise.resolve(page('replica')));
    state.replica = false;
    expect((await shared.get('k', () => Promise.resolve(page('primary')))).json).toBe('primary');
    state.replica = Promise.resolve(true);
    expect((await shared.get('k', () => Promise.resolve(page('again')))).json).toBe('replica');
    state.replica = Promise.resolve(false);
    expect((await shared.get('k', () => Promise.resolve(page('again')))).json).toBe('primary');
  });

  it('shares nothing when the generation cannot be read', async () => {
    const { shared, state } = pages();
    state.generation = undefined;
    const build = jest.fn(() => Promise.resolve(page('a')));
    await shared.get('k', build);
    await shared.get('k', build);
    expect(build).toHaveBeenCalledTimes(2);
  });
});
