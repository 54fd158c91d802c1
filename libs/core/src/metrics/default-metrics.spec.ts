import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { collectStoppableDefaultMetrics } from './default-metrics';

describe('collectStoppableDefaultMetrics', () => {
  it("registers the library's default metrics, GC and event-loop delay included", async () => {
    const registry = new Registry();
    const stop = collectStoppableDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
    try {
      const text = await registry.metrics();
      expect(text).toContain('process_cpu_user_seconds_total');
      expect(text).toContain('nodejs_eventloop_lag_p99_seconds');
      expect(text).toContain('nodejs_gc_duration_seconds');
    } finally {
      stop();
    }
  });

  it('stops what it started: the delay histogram and the GC observer', () => {
    const disable = jest.spyOn(Object.getPrototypeOf(monitorEventLoopDelay()), 'disable');
    const disconnect = jest.spyOn(PerformanceObserver.prototype, 'disconnect');
    try {
      const stop = collectStoppableDefaultMetrics({ register: new Registry() });
      expect(disable).not.toHaveBeenCalled();
      expect(disconnect).not.toHaveBeenCalled();
      stop();
      expect(disable).toHaveBeenCalledTimes(1);
      expect(disable.mock.results[0].value).toBe(true); // true only for a histogram that was running
      expect(disconnect).toHaveBeenCalledTimes(1);
    } finally {
      disable.mockRestore();
      disconnect.mockRestore();
    }
  });

  it('leaves perf_hooks as it found it, also when the library throws', () => {
    const before = [monitorEventLoopDelay, PerformanceObserver];
    expect(() => collectStoppableDefaultMetrics({ register: new Registry(), prefix: 'a' })()).not.toThrow();
    const registry = new Registry();
    const stop = collectStoppableDefaultMetrics({ register: registry });
    // The same names again in the same registry: prom-client throws on the duplicate.
    expect(() => collectStoppableDefaultMetrics({ register: registry })).toThrow(/already been registered/);
    stop();
    const hooks = jest.requireActual<typeof import('node:perf_hooks')>('node:perf_hooks');
    expect([hooks.monitorEventLoopDelay, hooks.PerformanceObserver]).toEqual(before);
  });
});
