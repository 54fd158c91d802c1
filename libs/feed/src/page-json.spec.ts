import { encodeTags, rowToVideoView, type VideoView } from '@app/video';
import { entryRow, type PageRow, textRow, toFeedItem, type VideoRow, viewRow } from './feed.types';
import { likesCountPageOf, timePageOf } from './page-json';

/** A small seeded generator (mulberry32): the same cases on every run. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Pieces a string field may be made of: the entry's own key texts among them, quotes, escapes. */
const PIECES = [
  'a',
  'title',
  ' ',
  '"',
  '\\',
  '\\"',
  ',"title":"',
  ',"author_id":',
  ',"username":"',
  ',"create_time":"',
  ',"likes_count":',
  ',"comments_count":',
  ',"popularity":',
  ',"tags":[',
  '"is_liked":false',
  ']}',
  '{"id":',
  '\n',
  '\u0001',
  'é',
  '字',
  '😀',
  '\u2028',
];

function text(r: () => number, max = 6): string {
  let s = '';
  const n = Math.floor(r() * max);
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(r() * PIECES.length)];
  return s;
}

function view(r: () => number): VideoView {
  const int = (max: number): number => Math.floor(r() * max);
  const tags = Array.from({ length: int(4) }, () => text(r, 3) || 't');
  return rowToVideoView({
    id: 1 + int(2 ** 40),
    author_id: 1 + int(2 ** 31),
    username: text(r) || 'u',
    title: text(r),
    description: text(r, 10),
    play_url: text(r),
    cover_url: text(r),
    create_time: int(4_102_444_800_000),
    likes_count: r() < 0.2 ? 0 : int(2 ** 40),
    comments_count: int(1000),
    popularity: int(10_000),
    tags: encodeTags(tags),
  });
}

describe('textRow', () => {
  it('slices a cached entry into the item JSON.stringify(toFeedItem(...)) writes, whatever its strings hold', () => {
    const r = rng(14);
    for (let i = 0; i < 3000; i++) {
      const v = view(r);
      const entry = JSON.stringify(v);
      const row = textRow(entry);
      expect(row).toBeDefined();
      expect(row?.item).toBe(JSON.stringify(toFeedItem(viewRow(v))));
      expect(row?.id).toBe(v.id);
      expect(row?.create_time).toBe(Date.parse(v.create_time));
      expect(row?.likes_count).toBe(v.likes_count);
    }
  });

  it('leaves any other text to the caller', () => {
    const v = view(rng(1));
    const { tags: _tags, ...untagged } = v;
    const { popularity: _p, ...noPopularity } = v;
    const { id, author_id, ...rest } = v;
    for (const other of [
      'null',
      '{"refill":"primary","v":"x"}',
      JSON.stringify(untagged),
      JSON.stringify(noPopularity),
      JSON.stringify({ ...v, create_time: 'not a time' }),
      JSON.stringify({ author_id, id, ...rest }),
      JSON.stringify(v).slice(0, -1),
    ]) {
      expect(textRow(other)).toBeUndefined();
    }
    // entryRow then parses it: the row the view gives.
    expect(entryRow(JSON.stringify(noPopularity))).toEqual(viewRow(v));
  });
});

describe('timePageOf / likesCountPageOf', () => {
  /** What the pages were written as before: the page object, stringified. */
  const timePage = (rows: PageRow[], q: { limit: number; latestTime: number; idBefore: number }): string => {
    const full = rows.map((x) =>
      'item' in x ? (JSON.parse(x.item) as ReturnType<typeof toFeedItem>) : toFeedItem(x),
    );
    const last = rows[Math.min(rows.length, q.limit) - 1];
    return JSON.stringify({
      video_list: full.slice(0, q.limit),
      next_time: last ? Number(last.create_time) : q.latestTime,
      next_id_before: last ? Number(last.id) : q.idBefore,
      has_more: rows.length > q.limit,
    });
  };
  const likesPage = (rows: PageRow[], limit: number, cursor?: { likes: number; id: number }): string => {
    const items = rows
      .slice(0, limit)
      .map((x) => ('item' in x ? (JSON.parse(x.item) as ReturnType<typeof toFeedItem>) : toFeedItem(x)));
    const last = items[items.length - 1];
    return JSON.stringify({
      video_list: items,
      next_likes_count_before: last ? last.likes_count : (cursor?.likes ?? 0),
      next_id_before: last ? last.id : (cursor?.id ?? 0),
      has_more: rows.length > limit,
    });
  };
  /** A SQL row as the drivers give it (numbers as strings, tags encoded). */
  const sqlRow = (v: VideoView): VideoRow => ({
    id: String(v.id),
    author_id: String(v.author_id),
    username: v.username,
    title: v.title,
    description: v.description,
    play_url: v.play_url,
    cover_url: v.cover_url,
    create_time: String(Date.parse(v.create_time)),
    likes_count: String(v.likes_count),
    comments_count: v.comments_count,
    tags: encodeTags(v.tags),
  });

  it('write the bytes JSON.stringify of the page object writes, from text rows, SQL rows or both', () => {
    const r = rng(7);
    for (const limit of [1, 7, 10, 50]) {
      for (let n = 0; n <= limit + 1; n += n < 3 || n >= limit - 1 ? 1 : Math.ceil(limit / 4)) {
        const rows: PageRow[] = Array.from({ length: n }, () => {
          const v = view(r);
          const pick = r();
          return pick < 0.5 ? (textRow(JSON.stringify(v)) as PageRow) : pick < 0.8 ? viewRow(v) : sqlRow(v);
        });
        const q = { limit, latestTime: 1_700_000_000_123, idBefore: 99 };
        const page = timePageOf(rows, q);
        expect(page.json).toBe(timePage(rows, q));
        expect(page.ids).toEqual(rows.slice(0, limit).map((x) => Number(x.id)));
        for (const cursor of [undefined, { likes: 3, id: 12 }]) {
          const lp = likesCountPageOf(rows, limit, cursor);
          expect(lp.json).toBe(likesPage(rows, limit, cursor));
          expect(lp.ids).toEqual(page.ids);
        }
      }
    }
  });
});
