import { CachedPage, withLiked } from './feed-page-cache';
import { pageIds } from './feed.service';
import { toFeedItem, VideoRow } from './feed.types';

const row = (id: number, title: string, username = 'alice'): VideoRow => ({
  id,
  author_id: 7,
  username,
  title,
  description: '{"id":1,"author":{"id":2}}',
  play_url: 'https://cdn.example.com/v.mp4',
  cover_url: 'https://cdn.example.com/c.jpg',
  create_time: 1_700_000_000_000,
  likes_count: 0,
  comments_count: 0,
  tags: '',
});

describe('pageIds', () => {
  it('finds every item id of a serialised page, in order, and nothing inside strings', () => {
    const page = {
      video_list: [
        row(42, 'plain'),
        row(9, '{"id":5,"author":{"id":1}} in a title'),
        row(77, 'x', '{"id":3,"author":'),
      ].map(toFeedItem),
      next_time: 1,
      next_id_before: 77,
      has_more: false,
    };
    expect(pageIds(JSON.stringify(page))).toEqual([42, 9, 77]);
    expect(
      pageIds(JSON.stringify({ video_list: [], next_time: 0, next_id_before: 0, has_more: false })),
    ).toEqual([]);
  });
});

describe('withLiked', () => {
  const page = (titles: string[]): CachedPage => {
    const items = titles.map((t, i) => toFeedItem(row(10 + i, t, i === 1 ? '"is_liked":false' : 'bob')));
    const json = JSON.stringify({ video_list: items, next_time: 1, next_id_before: 12, has_more: true });
    return { json, ids: items.map((i) => i.id) };
  };
  const parsed = (json: string, liked: Set<number>): string => {
    const p = JSON.parse(json) as { video_list: { id: number; is_liked: boolean }[] };
    for (const i of p.video_list) i.is_liked = liked.has(i.id);
    return JSON.stringify(p);
  };

  it('sets is_liked on the liked items with the bytes parsing would give, whatever the strings hold', () => {
    const p = page(['"is_liked":false in a title', 'x', '{"is_liked":true}']);
    for (const liked of [
      new Set([10]),
      new Set([11]),
      new Set([10, 12]),
      new Set([10, 11, 12]),
      new Set([99]),
    ]) {
      expect(withLiked(p, liked)).toBe(parsed(p.json, liked));
    }
    expect(p.likedAt).toHaveLength(3);
  });

  it('leaves a page whose items it cannot place to the caller', () => {
    const p = page(['a', 'b']);
    expect(withLiked({ json: p.json, ids: [...p.ids, 5] }, new Set([10]))).toBeUndefined();
  });
});
