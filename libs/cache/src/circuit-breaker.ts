/**
 * Closed → (N consecutive failures) → open for `openMs` → half-open: one probe at a time;
 * a success closes it, a failure re-opens it. While open, callers skip Redis entirely, so a
 * dead Redis costs nothing per request instead of one timeout per call.
 */
export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;
  private probing = false;

  constructor(
    private readonly threshold = 3,
    private readonly openMs = 1000,
    private readonly onChange: (open: boolean) => void = () => undefined,
  ) {}

  get isOpen(): boolean {
    return this.openUntil > 0;
  }

  /** May a call go through now? In half-open state only one probe at a time. */
  allow(): boolean {
    if (this.openUntil === 0) return true;
    if (Date.now() < this.openUntil || this.probing) return false;
    this.probing = true;
    return true;
  }

  /** The dependency is reachable again (a reconnect): an open breaker lets its next call probe now. */
  probeNow(): void {
    if (this.openUntil !== 0) this.openUntil = Math.min(this.openUntil, Date.now());
  }

  success(): void {
    this.probing = false;
    this.failures = 0;
    if (this.openUntil !== 0) {
      this.openUntil = 0;
      this.onChange(false);
    }
  }

  failure(): void {
    this.probing = false;
    this.failures++;
    if (this.failures >= this.threshold || this.openUntil !== 0) {
      const wasOpen = this.openUntil !== 0;
      this.openUntil = Date.now() + this.openMs;
      if (!wasOpen) this.onChange(true);
    }
  }
}
