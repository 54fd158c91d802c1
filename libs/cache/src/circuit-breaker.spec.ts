import { CircuitBreaker } from './circuit-breaker';

describe('CircuitBreaker', () => {
  let changes: boolean[];
  let breaker: CircuitBreaker;

  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2024-01-01T00:00:00.000Z') });
    changes = [];
    breaker = new CircuitBreaker(3, 1000, (open) => changes.push(open));
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  const fail = (n: number): void => {
    for (let i = 0; i < n; i++) breaker.failure();
  };

  it('starts closed and lets every call through', () => {
    expect(breaker.isOpen).toBe(false);
    expect(breaker.allow()).toBe(true);
    expect(breaker.allow()).toBe(true);
    expect(changes).toEqual([]);
  });

  it('stays closed below the failure threshold', () => {
    fail(2);
    expect(breaker.isOpen).toBe(false);
    expect(breaker.allow()).toBe(true);
    expect(changes).toEqual([]);
  });

  it('opens after N consecutive failures and reports it once', () => {
    fail(3);
    expect(breaker.isOpen).toBe(true);
    expect(changes).toEqual([true]);
    // More failures while open (in-flight calls) do not report again.
    fail(2);
    expect(changes).toEqual([true]);
  });

  it('a success resets the consecutive-failure count', () => {
    fail(2);
    breaker.success();
    fail(2);
    expect(breaker.isOpen).toBe(false);
    expect(changes).toEqual([]);
    breaker.failure();
    expect(breaker.isOpen).toBe(true);
  });

  it('rejects every call while open, until openMs has passed', () => {
    fail(3);
    expect(breaker.allow()).toBe(false);
    jest.advanceTimersByTime(999);
    expect(breaker.allow()).toBe(false);
    expect(breaker.isOpen).toBe(true);
  });

  it('half-open: lets exactly one probe through at a time', () => {
    fail(3);
    jest.advanceTimersByTime(1000);
    expect(breaker.allow()).toBe(true);
    expect(breaker.allow()).toBe(false);
    expect(breaker.allow()).toBe(false);
    // Still reported open while the probe is running.
    expect(breaker.isOpen).toBe(true);
  });

  it('probeNow (a reconnect) lets the next call probe before openMs has passed; closed, it changes nothing', () => {
    fail(3);
    jest.advanceTimersByTime(100);
    expect(breaker.allow()).toBe(false);
    breaker.probeNow();
    expect(breaker.allow()).toBe(true);
    expect(breaker.allow()).toBe(false); // one probe at a time
    expect(breaker.isOpen).toBe(true);
    breaker.success();
    expect(changes).toEqual([true, false]);
    breaker.probeNow();
    expect(breaker.isOpen).toBe(false);
    expect(breaker.allow()).toBe(true);
  });

  it('a successful probe closes the breaker and reports it', () => {
    fail(3);
    jest.advanceTimersByTime(1000);
    expect(breaker.allow()).toBe(true);
    breaker.success();
    expect(breaker.isOpen).toBe(false);
    expect(changes).toEqual([true, false]);
    expect(breaker.allow()).toBe(true);
    expect(breaker.allow()).toBe(true);
  });

  it('after closing, it needs N fresh failures to open again', () => {
    fail(3);
    jest.advanceTimersByTime(1000);
    breaker.allow();
    breaker.success();
    fail(2);
    expect(breaker.isOpen).toBe(false);
    breaker.failure();
    expect(breaker.isOpen).toBe(true);
    expect(changes).toEqual([true, false, true]);
  });

  it('a failed probe re-opens for another openMs without a second open report', () => {
    fail(3);
    jest.advanceTimersByTime(1000);
    expect(breaker.allow()).toBe(true);
    breaker.failure();
    expect(breaker.isOpen).toBe(true);
    expect(changes).toEqual([true]);
    expect(breaker.allow()).toBe(false);
    jest.advanceTimersByTime(999);
    expect(breaker.allow()).toBe(false);
    jest.advanceTimersByTime(1);
    // A new probe is allowed once the fresh open period has passed.
    expect(breaker.allow()).toBe(true);
    expect(breaker.allow()).toBe(false);
  });

  it('a success while closed does not report a change', () => {
    breaker.success();
    expect(changes).toEqual([]);
  });

  it('uses defaults (3 failures, 1000 ms) and a no-op callback', () => {
    const b = new CircuitBreaker();
    b.failure();
    b.failure();
    expect(b.isOpen).toBe(false);
    b.failure();
    expect(b.isOpen).toBe(true);
    jest.advanceTimersByTime(999);
    expect(b.allow()).toBe(false);
    jest.advanceTimersByTime(1);
    expect(b.allow()).toBe(true);
  });
});
