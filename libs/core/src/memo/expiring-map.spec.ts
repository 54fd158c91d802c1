import { ExpiringMap } from './expiring-map';

describe('ExpiringMap', () => {
  afterEach(() => jest.useRealTimers());

  it('answers an entry until its expiry, then forgets it', () => {
    jest.useFakeTimers({ now: 1_000 });
    const m = new ExpiringMap<string>();
    m.set('a', 'x', 2_000);
    expect(m.get('a')).toBe('x');
    jest.setSystemTime(1_999);
    expect(m.get('a')).toBe('x');
    jest.setSystemTime(2_000);
    expect(m.get('a')).toBeUndefined();
    expect(m.size).toBe(0);
  });

  it('does not keep an entry that has already expired; Infinity never expires', () => {
    jest.useFakeTimers({ now: 5_000 });
    const m = new ExpiringMap<number>();
    m.set('old', 1, 5_000);
    m.set('forever', 2, Infinity);
    jest.setSystemTime(Number.MAX_SAFE_INTEGER);
    expect(m.get('old')).toBeUndefined();
    expect(m.get('forever')).toBe(2);
  });

  it('forgets the oldest insertion first beyond its bound; a re-set counts as new', () => {
    const m = new ExpiringMap<number>(2);
    m.set('a', 1, Infinity);
    m.set('b', 2, Infinity);
    m.set('a', 3, Infinity);
    m.set('c', 4, Infinity);
    expect(m.get('b')).toBeUndefined();
    expect(m.get('a')).toBe(3);
    expect(m.get('c')).toBe(4);
    expect(m.size).toBe(2);
    m.clear();
    expect(m.size).toBe(0);
  });
});
