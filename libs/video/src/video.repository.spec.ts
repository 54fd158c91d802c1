import type { Repository } from 'typeorm';
import type { Database } from '@app/core';
import type { VideoEntity } from './video.entity';
import { VideoRepository } from './video.repository';
import type { VideoViewRow } from './video.view';

interface Statement {
  sql: string;
  params: unknown[];
  route: 'primary' | 'replica';
}

const row = (id: number): VideoViewRow => ({
  id: String(id),
  author_id: 7,
  username: 'ann',
  title: `t${id}`,
  description: '',
  play_url: `/static/${id}.mp4`,
  cover_url: '',
  create_time: String(1_700_000_000_000 + id),
  likes_count: 0,
  comments_count: 0,
  popularity: 0,
  tags: null,
});

/**
 * A database of the videos `existing` that records each statement and the route it ran on: a
 * replica when run through `reader.runAllowed`, else the primary. `mayUseReplica` answers what
 * `replica` says at the time of the call.
 */
function fakeDb(existing: number[], opts: { replica?: () => boolean; fail?: Error } = {}) {
  const statements: Statement[] = [];
  let onReplica = false;
  const db = {
    reads: { mayUseReplica: () => Promise.resolve(opts.replica?.() ?? false) },
    reader: {
      runAllowed: async <T>(work: () => Promise<T>): Promise<T> => {
        onReplica = true;
        try {
          return await work();
        } finally {
          onReplica = false;
        }
      },
    },
    query: (sql: string, params: unknown[]): Promise<VideoViewRow[]> => {
      statements.push({ sql, params, route: onReplica ? 'replica' : 'primary' });
      if (opts.fail) return Promise.reject(opts.fail);
      const wanted = new Set(params.map(Number));
      return Promise.resolve(existing.filter((id) => wanted.has(id)).map(row));
    },
  };
  const repo = new VideoRepository({} as Repository<VideoEntity>, db as unknown as Database);
  return { repo, statements };
}

const placeholdersIn = (sql: string): number => /IN \(([^)]*)\)/.exec(sql)?.[1].split(',').length ?? 0;

describe('VideoRepository.viewsByIds', () => {
  it('answers each caller its own videos, in its order, gone ones left out', async () => {
    const { repo } = fakeDb([1, 2, 3, 4, 5]);
    const [a, b, c] = await Promise.all([
      repo.viewsByIds([3, 1, 99]),
      repo.viewsByIds([2]),
      repo.viewsByIds([5, 4, 3]),
    ]);
    expect(a.map((v) => v.id)).toEqual([3, 1]);
    expect(b.map((v) => v.id)).toEqual([2]);
    expect(c.map((v) => v.id)).toEqual([5, 4, 3]);
    expect(c[2]).toMatchObject({ id: 3, title: 't3', author_id: 7, tags: [] });
  });

  it('merges the calls made together into one statement, each id asked once', async () => {
    const { repo, statements } = fakeDb([1, 2, 3, 4, 5]);
    await Promise.all([repo.viewsByIds([3, 1]), repo.viewsByIds([2, 3]), repo.viewsByIds([5])]);
    expect(statements).toHaveLength(1);
    const asked = statements[0].params.map(Number);
    expect(new Set(asked)).toEqual(new Set([1, 2, 3, 5]));
    // Padded to a length of ITEM_BATCH_SIZES by repeating an id it asks anyway.
    expect(asked).toHaveLength(10);
    expect(placeholdersIn(statements[0].sql)).toBe(10);
  });

  it('pads every list to one of a few lengths, and splits past 64 ids', async () => {
    const { repo, statements } = fakeDb([]);
    await repo.viewsByIds([1]);
    await repo.viewsByIds(Array.from({ length: 11 }, (_, i) => i + 1));
    await repo.viewsByIds(Array.from({ length: 21 }, (_, i) => i + 1));
    await repo.viewsByIds(Array.from({ length: 41 }, (_, i) => i + 1));
    await repo.viewsByIds(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(statements.map((s) => placeholdersIn(s.sql))).toEqual([1, 20, 40, 64, 64, 40]);
    // Every id of the 100 was asked for.
    const asked = new Set(statements.slice(4).flatMap((s) => s.params.map(Number)));
    expect(asked.size).toBe(100);
  });

  it('keeps calls made at different times apart (each reads after it was made)', async () => {
    const { repo, statements } = fakeDb([1, 2]);
    await repo.viewsByIds([1]);
    await repo.viewsByIds([2]);
    expect(statements).toHaveLength(2);
  });

  it('never merges a primary read with a replica one', async () => {
    const { repo, statements } = fakeDb([1, 2, 3], { replica: () => true });
    const [onPrimary, onReplica] = await Promise.all([
      repo.viewsByIds([1, 2], true),
      repo.viewsByIds([2, 3]),
    ]);
    expect(onPrimary.map((v) => v.id)).toEqual([1, 2]);
    expect(onReplica.map((v) => v.id)).toEqual([2, 3]);
    expect(statements.map((s) => [s.route, new Set(s.params.map(Number))])).toEqual(
      expect.arrayContaining([
        ['primary', new Set([1, 2])],
        ['replica', new Set([2, 3])],
      ]),
    );
    expect(statements).toHaveLength(2);
  });

  it('reads the primary when a replica is not allowed', async () => {
    const { repo, statements } = fakeDb([1], { replica: () => false });
    await repo.viewsByIds([1]);
    expect(statements[0].route).toBe('primary');
  });

  it('fails every call a failed statement served', async () => {
    const down = new Error('database unavailable');
    const { repo, statements } = fakeDb([1, 2], { fail: down });
    const results = await Promise.allSettled([repo.viewsByIds([1]), repo.viewsByIds([2])]);
    expect(statements).toHaveLength(1);
    expect(results).toEqual([
      { status: 'rejected', reason: down },
      { status: 'rejected', reason: down },
    ]);
  });

  it('asks nothing for no ids', async () => {
    const { repo, statements } = fakeDb([1]);
    expect(await repo.viewsByIds([])).toEqual([]);
    expect(statements).toHaveLength(0);
  });
});
