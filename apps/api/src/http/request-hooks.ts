import type { FastifyInstance } from 'fastify';
import type { MetricsService } from '../metrics/metrics.service';
import { redactUrl } from './logger';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * Request id on every response, request metrics, and one log line per request at `info`
 * (Fastify's request logger: the request id is bound; the URL has its tokens redacted).
 */
export function registerRequestHooks(
  fastify: FastifyInstance,
  metrics: MetricsService,
  logRequests: boolean,
): void {
  fastify.addHook('onSend', (request, reply, payload, done) => {
    void reply.header('x-request-id', request.id);
    done(null, payload);
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    metrics.observe(request.method, route, reply.statusCode, seconds);
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
