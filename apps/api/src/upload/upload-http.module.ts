import { Inject, Module, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import multipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import { FILE_STORAGE, StorageModule } from '@app/storage';
import type { FileStorage } from '@app/storage';
import { registerStaticFiles } from './static-files';
import { UploadController } from './upload.controller';
import { registerWebClient } from './web-client';

/** HTTP edge of uploads: the multipart routes, `GET /static/...` and the built web client at `/`. */
@Module({
  imports: [StorageModule],
  controllers: [UploadController],
})
export class UploadHttpModule implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(FILE_STORAGE) private readonly storage: FileStorage,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    // Streams only: parts are read by the route (`req.file()`), never buffered or attached to the body.
    void fastify.register(multipart, { throwFileSizeLimit: true });
    // An upload refused before its body was read (401, 429, 413, 415…) closes the connection
    // rather than letting the server drain the rest of the file.
    fastify.addHook('onSend', (req, reply, payload, done) => {
      if (reply.statusCode >= 400 && req.method === 'POST' && req.isMultipart()) {
        void reply.header('connection', 'close');
      }
      done(null, payload);
    });
    registerStaticFiles(fastify, this.storage);
    registerWebClient(fastify);
  }
}
