import { parseEvent } from './event-validation';

describe('parseEvent', () => {
  const base = {
    event_id: '8f14e45f-ceea-467f-a8f5-1e2b3c4d5e6f',
    video_id: 7,
    author_id: 3,
    create_time: 1_700_000_000_000,
    ts: 1_700_000_000_001,
  };

  it('video.publish: tags are optional, and kept when present', () => {
    const without = parseEvent('video.publish', JSON.stringify(base));
    expect(without).toEqual({ ok: true, event: { routingKey: 'video.publish', payload: base } });
    const withTags = parseEvent('video.publish', JSON.stringify({ ...base, tags: ['cats', 'dogs'] }));
    expect(withTags.ok && withTags.event.payload).toEqual({ ...base, tags: ['cats', 'dogs'] });
  });

  it.each([['cats'], [[1]], [['']], [null]])('video.publish: tags %j are refused', (tags) => {
    expect(parseEvent('video.publish', JSON.stringify({ ...base, tags }))).toEqual({
      ok: false,
      error: 'invalid or missing tags',
    });
  });

  it('drops unknown fields and names each bad one', () => {
    const r = parseEvent('video.publish', JSON.stringify({ ...base, extra: 1 }));
    expect(r.ok && r.event.payload).toEqual(base);
    expect(parseEvent('video.publish', JSON.stringify({ ...base, video_id: 0, ts: 'x' }))).toEqual({
      ok: false,
      error: 'invalid or missing video_id, ts',
    });
    expect(parseEvent('nope', '{}')).toEqual({ ok: false, error: 'unknown routing key "nope"' });
  });
});
