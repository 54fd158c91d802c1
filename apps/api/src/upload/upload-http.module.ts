import { Inject, Module, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import multipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import { FILE_STORAGE, StorageModule, UploadJanitor } from '@app/storage';
import type { FileStorage } from '@app/storage';
import { VideoDeleteHooks, VideoModule } from '@app/video';
import { ChunkUploadController } from './chunk-upload.controller';
import { registerStaticFiles } from './static-files';
import { UploadController } from './upload.controller';
import { registerWebClient } from './web-client';

/** A refused upload declaring at most this many bytes is drained rather than cut off. */
const REFUSED_UPLOAD_DRAIN_MAX = 1024 * 1024;

/**
 * HTTP edge of uploads: the multipart and chunked routes, `GET /static/...` and the built web
 * client at `/`. Also where a deleted video's files are tied to its deletion (storage cannot
 * import the video domain, which sits above it) and where the upload janitor runs.
 */
@Module({
  imports: [StorageModule, VideoModule],
  controllers: [UploadController, ChunkUploadController],
  // StorageHealth for /healthz (a controller of the root module).
  exports: [StorageModule],
})
export class UploadHttpModule implements OnModuleInit, OnApplicationBootstrap {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(FILE_STORAGE) private readonly storage: FileStorage,
    private readonly janitor: UploadJanitor,
    private readonly videoDeleteHooks: VideoDeleteHooks,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    // Streams only: parts are read by the route (`req.file()`), never buffered or attached to the body.
    void fastify.register(multipart, { throwFileSizeLimit: true });
    // An upload refused before its body was read (401, 429, 413, 415…) closes the connection
    // rather than letting the server drain the rest of the file, unless the body is small: then
    // Node reads and discards it and the connection stays usable. Closing on a small body races the
    // client, which may still be writing it when the socket goes (EPIPE instead of the answer).
    fastify.addHook('onSend', (req, reply, payload, done) => {
      if (reply.statusCode >= 400 && req.method === 'POST' && req.isMultipart()) {
        const declared = Number(req.headers['content-length'] ?? Number.NaN);
        if (!(declared <= REFUSED_UPLOAD_DRAIN_MAX)) void reply.header('connection', 'close');
      }
      done(null, payload);
    });
    registerStaticFiles(fastify, this.storage);
    registerWebClient(fastify);
    this.videoDeleteHooks.register((manager, videoId) => this.janitor.releaseVideoFiles(manager, videoId));
    this.videoDeleteHooks.registerAfterCommit((video) => this.janitor.afterVideoDeleted(video.id));
  }

  onApplicationBootstrap(): void {
    this.janitor.start();
  }
}
