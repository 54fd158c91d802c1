import type { FastifyInstance } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The web client's policy. The Vite build needs no inline script or style (Vue's `:style`
 * bindings go through the CSSOM, which CSP does not restrict); media and images may come from
 * any http(s) URL (SPEC §3.2 allows external `play_url`/`cover_url`), `blob:` for the publish
 * previews and `data:` for the inlined favicon and small assets.
 */
export const WEB_CSP: Record<string, string[]> = {
  'default-src': ["'self'"],
  'base-uri': ["'self'"],
  'object-src': ["'none'"],
  'frame-ancestors': ["'none'"],
  'form-action': ["'self'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:', 'blob:', 'https:', 'http:'],
  'media-src': ["'self'", 'blob:', 'https:', 'http:'],
  'font-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'worker-src': ["'self'", 'blob:'],
  'manifest-src': ["'self'"],
};

/** `/docs`: Swagger UI sets inline styles and uses `data:` icons; its init script is a file. */
export const DOCS_CSP: Record<string, string[]> = {
  ...WEB_CSP,
  'style-src': ["'self'", "'unsafe-inline'"],
  'img-src': ["'self'", 'data:', 'https:'],
  'media-src': ["'none'"],
};

function options(csp: Record<string, string[]>): HelmetOptions {
  return {
    contentSecurityPolicy: { useDefaults: false, directives: csp },
    crossOriginEmbedderPolicy: false,
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    referrerPolicy: { policy: 'no-referrer' },
    // Sent per request, only over TLS (see below).
    strictTransportSecurity: false,
    xFrameOptions: { action: 'deny' },
  };
}

/** Runs helmet once against a recording response: the headers it sets, as a plain object. */
function headersOf(opts: HelmetOptions): Record<string, string> {
  const out: Record<string, string> = {};
  const res = {
    setHeader: (name: string, value: string | number | readonly string[]) => {
      out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader: () => undefined,
  } as unknown as ServerResponse;
  helmet(opts)({} as IncomingMessage, res, () => undefined);
  return out;
}

export const HSTS = 'max-age=31536000; includeSubDomains';

/**
 * Security headers on every response (helmet's set, computed once, applied by one hook):
 * the CSP above with `frame-ancestors 'none'`, `X-Frame-Options: DENY`, `Referrer-Policy:
 * no-referrer`, `nosniff`, COOP/CORP same-origin (`/static` files are `cross-origin`, so
 * clients on other origins can embed them), and HSTS when the request came over TLS (directly,
 * or per `X-Forwarded-Proto` from a trusted proxy). Routes may set their own CSP after this.
 */
export function registerSecurityHeaders(fastify: FastifyInstance): void {
  const web = headersOf(options(WEB_CSP));
  const docs = headersOf(options(DOCS_CSP));
  const staticFiles = { ...web, 'cross-origin-resource-policy': 'cross-origin' };
  fastify.addHook('onRequest', (req, reply, done) => {
    const url = req.url;
    void reply.headers(url.startsWith('/docs') ? docs : url.startsWith('/static/') ? staticFiles : web);
    if (req.protocol === 'https') void reply.header('strict-transport-security', HSTS);
    done();
  });
}
