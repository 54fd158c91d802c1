import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const UI_FILES: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'application/javascript; charset=utf-8',
};

export function buildOpenApi(app: NestFastifyApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('feedsystem-video')
    .setDescription(
      'Short-video feed API. Every route is POST with a JSON body and also answers under /api. ' +
        'Errors are {error, code, details?} (SPEC §1).',
    )
    .setVersion('1.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    .build();
  return SwaggerModule.createDocument(app, config);
}

/** Swagger UI's start-up, a file rather than an inline script so the CSP needs no 'unsafe-inline'. */
const INIT_JS = `window.ui = SwaggerUIBundle({ url: '/docs/json', dom_id: '#ui', deepLinking: true, validatorUrl: null });\n`;

/**
 * `GET /docs` (Swagger UI) and `GET /docs/json`, served straight from swagger-ui-dist so no
 * static-file plugin is needed. Their CSP is the docs policy of http/security-headers.ts.
 */
export function mountDocs(app: NestFastifyApplication): void {
  const doc = buildOpenApi(app);
  const json = JSON.stringify(doc);
  const uiDir = dirname(require.resolve('swagger-ui-dist/package.json'));
  const assets = new Map(
    Object.entries(UI_FILES).map(([f, type]) => [f, { type, body: readFileSync(join(uiDir, f)) }]),
  );
  assets.set('init.js', { type: 'application/javascript; charset=utf-8', body: Buffer.from(INIT_JS) });
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>feedsystem-video API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"></head><body><div id="ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script><script src="/docs/init.js"></script></body></html>`;
  const fastify = app.getHttpAdapter().getInstance();
  fastify.get('/docs', (_req, reply) => reply.type('text/html; charset=utf-8').send(html));
  fastify.get('/docs/json', (_req, reply) => reply.type('application/json; charset=utf-8').send(json));
  fastify.get<{ Params: { file: string } }>('/docs/:file', (req, reply) => {
    const a = assets.get(req.params.file);
    if (!a) return reply.status(404).send({ error: 'route not found', code: 'NOT_FOUND' });
    return reply.type(a.type).header('cache-control', 'public, max-age=86400').send(a.body);
  });
}
