import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { contentTypeOfKey, resolveRange } from '@app/storage';
import type { ByteRange, FileStorage, ObjectStat, RangeRequest } from '@app/storage';

/**
 * A `Range` header (RFC 9110 §14), before the size is known: one range, or 'ignore' (a plain
 * 200) for another unit (`items=0-1`), an invalid spec (`bytes=5-3`, `bytes=abc`) or several
 * ranges, which a server may decline to serve as ranges. Whether it is satisfiable (else 416)
 * is {@link resolveRange}'s to say, against the size.
 */
export function parseRangeHeader(header: string): RangeRequest | 'ignore' {
  const unit = /^\s*bytes\s*=\s*(.*?)\s*$/i.exec(header);
  if (!unit || unit[1].includes(',')) return 'ignore';
  const m = /^(\d*)\s*-\s*(\d*)$/.exec(unit[1]);
  if (!m || (m[1] === '' && m[2] === '')) return 'ignore';
  // Beyond 2^53 every bound means "past any end": kept exact, and printable as digits for S3.
  const n = (digits: string): number => Math.min(Number(digits), Number.MAX_SAFE_INTEGER);
  const [, a, b] = m;
  if (a === '') return { suffix: n(b) };
  if (b !== '' && n(b) < n(a)) return 'ignore';
  return b === '' ? { start: n(a) } : { start: n(a), end: n(b) };
}

/** Opaque tags of an `If-None-Match` list match ours (weak comparison, RFC 9110 §13.1.2). */
function noneMatch(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

/** `If-Range`: the Range applies only if the validator still names these exact bytes. */
function ifRangeHolds(header: string, etag: string, lastModified: string): boolean {
  const v = header.trim();
  if (v.startsWith('W/')) return false;
  if (v.startsWith('"')) return v === etag;
  return v === lastModified;
}

/** Seconds resolution, as Last-Modified carries. */
const seconds = (d: Date): number => Math.floor(d.getTime() / 1000);

const KEY = /^[a-z]+\/\d{4}\/\d{2}\/[0-9a-f]{32}\.(mp4|webm|jpg|png|webp)$/;

const validators = (stat: ObjectStat) => ({
  etag: `"${stat.etag}"`,
  lastModified: stat.modifiedAt.toUTCString(),
});

/** RFC 9110 §13.2.2: If-None-Match decides when present, else If-Modified-Since. */
function notModified(stat: ObjectStat, inm: string | undefined, ims: string | undefined): boolean {
  if (inm !== undefined) return noneMatch(inm, validators(stat).etag);
  if (ims === undefined) return false;
  const since = Date.parse(ims);
  return !Number.isNaN(since) && seconds(stat.modifiedAt) <= Math.floor(since / 1000);
}

/**
 * The answer for `stat`: 200 with the whole object, 206 with `served`, or 416; `body` is left
 * out for HEAD. Every answer about the file carries its validators and an hour of caching.
 */
function answer(
  reply: FastifyReply,
  key: string,
  stat: ObjectStat,
  served: ByteRange | 'unsatisfiable' | null,
  body: Readable | null,
): FastifyReply {
  const { etag, lastModified } = validators(stat);
  void reply
    .header('cache-control', 'public, max-age=3600')
    .header('etag', etag)
    .header('last-modified', lastModified)
    .header('accept-ranges', 'bytes')
    .header('content-security-policy', "default-src 'none'; media-src 'self'; img-src 'self'")
    .type(contentTypeOfKey(key));
  if (served === 'unsatisfiable') {
    return reply
      .status(416)
      .header('content-range', `bytes */${stat.size}`)
      .type('application/json; charset=utf-8')
      .send({ error: 'range not satisfiable', code: 'VALIDATION_FAILED', details: [] });
  }
  if (served) {
    void reply
      .status(206)
      .header('content-range', `bytes ${served.start}-${served.end}/${stat.size}`)
      .header('content-length', String(served.end - served.start + 1));
  } else {
    void reply.status(200).header('content-length', String(stat.size));
  }
  // A HEAD is answered without a body: Fastify keeps the Content-Length set above.
  return body ? reply.send(body) : reply.send();
}

/**
 * `GET /static/<key>`: uploaded files with their content type, `Range` (206 / 416) for seeking,
 * `ETag`/`Last-Modified` with 304s for conditional requests, `nosniff`. Cached for an hour, then
 * revalidated: keys are random and never reused, but a file is deleted with its video.
 *
 * One request to the store each: a plain or ranged GET opens the object and takes its size and
 * validators from that answer (S3: GetObject alone); a HEAD, and a conditional GET (a 304
 * without a body, nearly always: objects are never rewritten), need only its stat (HeadObject),
 * and a conditional GET that does not match opens the object after it.
 */
export function registerStaticFiles(fastify: FastifyInstance, storage: FileStorage): void {
  fastify.route<{ Params: { '*': string } }>({
    method: ['GET', 'HEAD'],
    url: '/static/*',
    handler: async (req: FastifyRequest<{ Params: { '*': string } }>, reply: FastifyReply) => {
      const key = req.params['*'];
      const notFound = () =>
        reply
          .status(404)
          .header('x-content-type-options', 'nosniff')
          .send({ error: 'file not found', code: 'NOT_FOUND' });
      if (!KEY.test(key)) return notFound();
      void reply.header('x-content-type-options', 'nosniff');
      const header = (name: string): string | undefined => {
        const v = req.headers[name];
        return typeof v === 'string' && v !== '' ? v : undefined;
      };
      const inm = header('if-none-match');
      const ims = header('if-modified-since');
      const ifRange = header('if-range');
      const rangeHeader = header('range');
      const isHead = req.method === 'HEAD';

      let known: ObjectStat | null = null;
      if (isHead || inm !== undefined || ims !== undefined || ifRange !== undefined) {
        known = await storage.stat(key);
        if (!known) return notFound();
        if (notModified(known, inm, ims)) {
          const { etag, lastModified } = validators(known);
          return reply
            .status(304)
            .header('cache-control', 'public, max-age=3600')
            .header('etag', etag)
            .header('last-modified', lastModified)
            .send();
        }
      }
      const parsed = rangeHeader === undefined ? 'ignore' : parseRangeHeader(rangeHeader);
      const rangeHolds =
        ifRange === undefined ||
        (known !== null && ifRangeHolds(ifRange, validators(known).etag, validators(known).lastModified));
      const range = parsed !== 'ignore' && rangeHolds ? parsed : undefined;

      if (isHead && known) {
        return answer(reply, key, known, range ? resolveRange(range, known.size) : null, null);
      }
      const opened = await storage.read(key, range);
      if (!opened) return notFound();
      return answer(reply, key, opened.stat, opened.body ? opened.range : 'unsatisfiable', opened.body);
    },
  });
}
