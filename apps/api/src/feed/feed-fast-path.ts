import type { FastifyInstance } from 'fastify';
import { PassThrough } from 'node:stream';
import { FeedService, TimeCursorQuery } from '@app/feed';

const MAX = Number.MAX_SAFE_INTEGER;
const JSON_TYPE = 'application/json; charset=utf-8';

/** A field the DTO would accept unchanged: absent, or a non-negative safe integer. */
function field(v: unknown): number | null {
  if (v === undefined) return 0;
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX ? v : null;
}

/** The normalised query when the body is one the Nest route would accept as is; else null. */
export function fastLatestQuery(body: unknown): TimeCursorQuery | null {
  if (body === undefined || body === null) return FeedService.timeQuery();
  if (typeof body !== 'object' || Array.isArray(body)) return null;
  const b = body as Record<string, unknown>;
  const limit = field(b.limit);
  const latestTime = field(b.latest_time);
  const idBefore = field(b.id_before);
  if (limit === null || latestTime === null || idBefore === null) return null;
  return FeedService.timeQuery(limit, latestTime, idBefore);
}

/** Bodies above this go the normal way (a listLatest body is ~40 bytes). */
const FAST_BODY_MAX = 1024;

function isJson(contentType: string | undefined): boolean {
  return contentType === 'application/json' || (contentType?.startsWith('application/json;') ?? false);
}

/** The cached bytes for a raw request body, or undefined (then the request goes the normal way). */
function lookup(feeds: FeedService, raw: Buffer): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined; // malformed: let fastify's parser answer its 400
  }
  const q = fastLatestQuery(body);
  return q ? feeds.latestPages.get(FeedService.latestKey(q)) : undefined;
}

/**
 * Anonymous `POST /feed/listLatest` cache hits skip Nest entirely (middleware, guard, pipe,
 * interceptors) and fastify's body parser: a `preParsing` hook recognises the route with no
 * Authorization header and a small JSON body, reads the body itself, and sends the page's
 * pre-serialised bytes from the in-process page cache. Anything else — a token, an unusual or
 * invalid body, a page not in the local cache — goes on to the Nest route (the bytes read are
 * replayed to the parser), which validates, fills the caches and answers with the same bytes and
 * headers; x-request-id is set by the global onSend hook either way.
 */
export function registerLatestFastPath(fastify: FastifyInstance, feeds: FeedService): void {
  fastify.addHook('preParsing', (request, reply, payload, done) => {
    if (
      request.routeOptions.url !== '/feed/listLatest' ||
      request.method !== 'POST' ||
      request.headers.authorization !== undefined ||
      !isJson(request.headers['content-type'])
    ) {
      done(null, payload);
      return;
    }
    const length = Number(request.headers['content-length']);
    if (!(length > 0 && length <= FAST_BODY_MAX)) {
      done(null, payload);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    payload.on('data', (c: Buffer) => {
      chunks.push(c);
      size += c.length;
    });
    payload.on('error', (err: Error) => done(err));
    payload.on('end', () => {
      const raw = Buffer.concat(chunks, size);
      const hit = size === length ? lookup(feeds, raw) : undefined;
      if (hit !== undefined) {
        void reply.code(200).header('content-type', JSON_TYPE).send(hit);
        return;
      }
      const replay = new PassThrough();
      replay.end(raw);
      done(null, replay);
    });
  });
}
