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
