import type { FastifyInstance } from 'fastify';
import type { MetricsService } from '../metrics/metrics.service';
import { redactUrl } from './logger';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * Request id on every response, request metrics (when `metrics` is given: a metrics listener
 * serves them), and one log line per request at `info` (Fastify's request logger: the request id
 * is bound; the URL has its tokens redacted). Without either, no `onResponse` hook at all.
 */
export function registerRequestHooks(
  fastify: FastifyInstance,
  metrics: MetricsService | null,
  logRequests: boolean,
): void {
  fastify.addHook('onSend', (request, reply, payload, done) => {
    void reply.header('x-request-id', request.id);
    done(null, payload);
  });
  if (!metrics && !logRequests) return;
  fastify.addHook('onResponse', (request, reply, done) => {
    if (metrics) {
      const route = request.routeOptions.url ?? 'unmatched';
      metrics.observe(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    }
    if (logRequests) {
      request.log.info(
        {
          method: request.method,
          url: redactUrl(request.url),
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime * 10) / 10,
          ip: request.ip,
        },
        'request',
      );
    }
    done();
  });
}

let seq = 0;
const base = Math.random().toString(36).slice(2, 8);

/** Honours a sane incoming `X-Request-Id`, else makes a short unique one. */
export function genRequestId(header: string | string[] | undefined): string {
  if (typeof header === 'string' && REQUEST_ID.test(header)) return header;
  seq = (seq + 1) % 1e9;
  return `${base}-${seq.toString(36)}`;
}
