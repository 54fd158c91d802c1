import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { extname, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** `dist/web` next to the compiled api, or under the working directory (tests run from sources). */
function findWebRoot(): string | null {
  const candidates = [
    resolve(__dirname, '..', '..', '..', '..', 'web'),
    resolve(process.cwd(), 'dist', 'web'),
  ];
  return candidates.find((d) => existsSync(resolve(d, 'index.html'))) ?? null;
}

/**
 * The built web client at `/` (SPEC §1): a real file under `dist/web` is served as is (hashed
 * `assets/` cached for a year), any other GET gets `index.html` so client-side routes work.
 */
export function registerWebClient(fastify: FastifyInstance): void {
  let root: string | null = null;
  const webRoot = (): string | null => (root ??= findWebRoot());

  fastify.get('/*', (req: FastifyRequest, reply: FastifyReply) => {
    const dir = webRoot();
    if (!dir) {
      return reply
        .status(404)
        .send({ error: 'web client not built: run `npm run build:web`', code: 'NOT_FOUND' });
    }
    const path = decodeURIComponent((req.url.split('?')[0] ?? '/').replace(/\+/g, '%2B'));
    const file = resolve(dir, '.' + path);
    const inside = file.startsWith(dir + sep) && !path.split('/').some((s) => s.startsWith('.'));
    if (inside && existsSync(file) && statSync(file).isFile()) {
      const hashed = path.startsWith('/assets/');
      return reply
        .type(TYPES[extname(file)] ?? 'application/octet-stream')
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'public, max-age=3600')
        .send(createReadStream(file));
    }
    if (path.startsWith('/assets/')) {
      return reply.status(404).send({ error: 'file not found', code: 'NOT_FOUND' });
    }
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .send(createReadStream(resolve(dir, 'index.html')));
  });
}
