import { CacheKeys, minuteBucket } from './cache-keys';

/** The Redis Cluster hash tag of a key: the text inside the first `{…}`, when non-empty. */
function hashTag(key: string): string | undefined {
  const open = key.indexOf('{');
  if (open < 0) return undefined;
  const close = key.indexOf('}', open + 1);
  if (close <= open + 1) return undefined;
  return key.slice(open + 1, close);
}

describe('minuteBucket', () => {
  it('formats yyyyMMddHHmm in UTC, zero-padded', () => {
    expect(minuteBucket(Date.UTC(2024, 2, 5, 7, 9, 0))).toBe('202403050709');
  });

  it('truncates seconds and milliseconds to the minute', () => {
    expect(minuteBucket(Date.UTC(2024, 2, 5, 7, 9, 59, 999))).toBe('202403050709');
    expect(minuteBucket(Date.UTC(2024, 2, 5, 7, 10, 0, 0))).toBe('202403050710');
  });

  it('is UTC whatever the process time zone (never reads local-time fields)', () => {
    // Jest cannot switch the zone of a running process, so local getters are made absurd instead.
    const local = ['getFullYear', 'getMonth', 'getDate', 'getHours', 'getMinutes'] as const;
    const spies = local.map((m) => jest.spyOn(Date.prototype, m).mockReturnValue(99));
    try {
      // 2024-06-30T23:30:00-05:00 is 2024-07-01T04:30Z.
      expect(minuteBucket(Date.parse('2024-06-30T23:30:00-05:00'))).toBe('202407010430');
      expect(minuteBucket(Date.UTC(2024, 11, 31, 23, 59))).toBe('202412312359');
    } finally {
      for (const s of spies) s.mockRestore();
    }
  });

  it('crosses the day and month boundary', () => {
    expect(minuteBucket(Date.UTC(2024, 0, 31, 23, 59, 59, 999))).toBe('202401312359');
    expect(minuteBucket(Date.UTC(2024, 1, 1, 0, 0))).toBe('202402010000');
  });

  it('handles leap day and the end of February', () => {
    expect(minuteBucket(Date.UTC(2024, 1, 29, 23, 59))).toBe('202402292359');
    expect(minuteBucket(Date.UTC(2024, 1, 29, 23, 59) + 60_000)).toBe('202403010000');
    expect(minuteBucket(Date.UTC(2023, 1, 28, 23, 59) + 60_000)).toBe('202303010000');
  });

  it('crosses the year boundary', () => {
    const newYear = Date.UTC(2025, 0, 1, 0, 0);
    expect(minuteBucket(newYear - 1)).toBe('202412312359');
    expect(minuteBucket(newYear)).toBe('202501010000');
  });

  it('orders lexically like time', () => {
    const times = [Date.UTC(2024, 11, 31, 23, 59), Date.UTC(2025, 0, 1, 0, 0), Date.UTC(2025, 9, 1, 9, 0)];
    const buckets = times.map(minuteBucket);
    expect([...buckets].sort()).toEqual(buckets);
    expect(buckets.every((b) => /^\d{12}$/.test(b))).toBe(true);
  });
});

describe('CacheKeys', () => {
  it('names every SPEC §5 key', () => {
    expect(CacheKeys.token(42)).toBe('account:42');
    expect(CacheKeys.latestFeed(10, '0')).toBe('feed:listLatest:limit=10:before=0');
    expect(CacheKeys.followingFeed(20, 5, '1700000000000')).toBe(
      'feed:listByFollow:limit=20:uid=5:before=1700000000000',
    );
    expect(CacheKeys.videoDetail(7)).toBe('video:detail:id=7');
    expect(CacheKeys.lock('video:detail:id=7')).toBe('lock:video:detail:id=7');
  });

  it('hot buckets, snapshots and the running window share the {video} hash tag, so their scripts run in one slot', () => {
    const buckets = [
      CacheKeys.hotBucket(minuteBucket(Date.UTC(2024, 11, 31, 23, 59))),
      CacheKeys.hotBucket(minuteBucket(Date.UTC(2025, 0, 1, 0, 0))),
    ];
    const snapshot = CacheKeys.hotSnapshot(1735689600);
    expect(buckets).toEqual(['hot:{video}:1m:202412312359', 'hot:{video}:1m:202501010000']);
    expect(snapshot).toBe('hot:{video}:merge:1m:1735689600');
    const window = [CacheKeys.hotWindow, CacheKeys.hotWindowState, CacheKeys.hotVersion];
    for (const k of [...buckets, snapshot, ...window]) expect(hashTag(k)).toBe('video');
  });

  it('different inputs give different keys', () => {
    expect(CacheKeys.videoDetail(1)).not.toBe(CacheKeys.videoDetail(11));
    expect(CacheKeys.latestFeed(10, '0')).not.toBe(CacheKeys.latestFeed(1, '00'));
    expect(CacheKeys.rateLimit('login', '1.2.3.4')).not.toBe(CacheKeys.rateLimit('loginUser', '1.2.3.4'));
  });
});
