// eslint-disable-next-line @typescript-eslint/no-require-imports -- the module object prom-client holds; `import *` would be a copy
import perfHooks = require('node:perf_hooks');
import {
  collectDefaultMetrics,
  DefaultMetricsCollectorConfiguration,
  RegistryContentType,
} from 'prom-client';

/**
 * prom-client's `collectDefaultMetrics`, with a way to stop it.
 *
 * The library starts an event-loop-delay histogram and a GC `PerformanceObserver` and offers no
 * way to stop either (prometheus/client_js#494, #500, open): the observer's callback holds the
 * registry, so every process (or test app) that registered default metrics stays reachable after
 * it closes. We keep using the library's collectors (same names, buckets and labels) and only
 * record the two handles it creates, by wrapping the two `perf_hooks` factories for the duration of
 * the synchronous call; the returned function disables the histogram and disconnects the observer.
 */
export function collectStoppableDefaultMetrics<T extends RegistryContentType>(
  config: DefaultMetricsCollectorConfiguration<T>,
): () => void {
  const hooks = perfHooks as { -readonly [K in keyof typeof perfHooks]: (typeof perfHooks)[K] };
  const { monitorEventLoopDelay, PerformanceObserver } = hooks;
  const histograms: perfHooks.IntervalHistogram[] = [];
  const observers: perfHooks.PerformanceObserver[] = [];
  class RecordedObserver extends PerformanceObserver {
    constructor(callback: perfHooks.PerformanceObserverCallback) {
      super(callback);
      observers.push(this);
    }
  }
  hooks.monitorEventLoopDelay = (options) => {
    const histogram = monitorEventLoopDelay(options);
    histograms.push(histogram);
    return histogram;
  };
  hooks.PerformanceObserver = RecordedObserver;
  try {
    collectDefaultMetrics(config);
  } finally {
    hooks.monitorEventLoopDelay = monitorEventLoopDelay;
    hooks.PerformanceObserver = PerformanceObserver;
  }
  return () => {
    for (const h of histograms.splice(0)) h.disable();
    for (const o of observers.splice(0)) o.disconnect();
  };
}
