import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { contentTypeOfKey, type FileStorage } from '@app/storage';

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` → an inclusive range; 'invalid' when unsatisfiable or malformed. */
export function parseRange(
  header: string,
  size: number,
): { start: number; end: number } | 'invalid' | 'ignore' {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return header.includes(',') && header.trim().startsWith('bytes=') ? 'ignore' : 'invalid';
  const [, a, b] = m;
  if (a === '' && b === '') return 'invalid';
  let start: number;
  let end: number;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0) return 'invalid';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
    if (b !== '' && Number(b) < start) return 'invalid';
  }
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start >= size || size === 0)
    return 'invalid';
  return { start, end };
}

const KEY = /^[a-z]+\/\d{4}\/\d{2}\/[0-9a-f]{32}\.(mp4|webm|jpg|png|webp)$/;

/**
 * `GET /static/<key>`: uploaded files with their content type, `Range` (206 / 416) for seeking,
 * `nosniff`, and long caching (keys are random and never reused).
 */
export function registerStaticFiles(fastify: FastifyInstance, storage: FileStorage): void {
  fastify.get('/static/*', async (req: FastifyRequest<{ Params: { '*': string } }>, reply: FastifyReply) => {
    const key = req.params['*'];
    const notFound = () =>
      reply
        .status(404)
        .header('x-content-type-options', 'nosniff')
        .send({ error: 'file not found', code: 'NOT_FOUND' });
    if (!KEY.test(key)) return notFound();
    const stat = await storage.stat(key);
    if (!stat) return notFound();
    const size = stat.size;
    void reply
      .header('x-content-type-options', 'nosniff')
      .header('accept-ranges', 'bytes')
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('last-modified', stat.modifiedAt.toUTCString())
      .header('content-security-policy', "default-src 'none'; media-src 'self'; img-src 'self'")
      .type(contentTypeOfKey(key));
    const rangeHeader = req.headers.range;
    if (typeof rangeHeader === 'string' && rangeHeader !== '') {
      const range = parseRange(rangeHeader, size);
      if (range === 'invalid') {
        return reply
          .status(416)
          .header('content-range', `bytes */${size}`)
          .type('application/json; charset=utf-8')
          .send({ error: 'range not satisfiable', code: 'VALIDATION_FAILED', details: [] });
      }
      if (range !== 'ignore') {
        const body = await storage.open(key, range);
        return reply
          .status(206)
          .header('content-range', `bytes ${range.start}-${range.end}/${size}`)
          .header('content-length', String(range.end - range.start + 1))
          .send(body);
      }
    }
    const body = await storage.open(key);
    return reply.status(200).header('content-length', String(size)).send(body);
  });
}
