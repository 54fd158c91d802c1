import { Module } from '@nestjs/common';
import { APP_CONFIG } from '@app/core';
import type { AppConfig } from '@app/core';
import { ChunkUploadService } from './chunk-upload.service';
import { FileDeletions } from './file-deletions';
import { FILE_STORAGE } from './file-storage';
import type { FileStorage } from './file-storage';
import { LocalFileStorage } from './local-file-storage';
import { DEFAULT_STORAGE_HEALTH, STORAGE_HEALTH_OPTIONS, StorageHealth } from './storage-health';
import { UploadJanitor } from './upload-janitor.service';
import { UploadQuota } from './upload-quota';
import { UploadReferences } from './upload-references';
import { UploadRepository } from './upload.repository';
import { UploadService } from './upload.service';

/**
 * File storage (`STORAGE`: local disk under DATA_DIR/uploads, or an S3-compatible bucket),
 * uploads, chunked uploads, the quota and the janitor that deletes what is no longer used.
 */
@Module({
  providers: [
    {
      provide: FILE_STORAGE,
      inject: [APP_CONFIG],
      useFactory: (c: AppConfig): FileStorage => {
        if (c.storage.type !== 's3') return new LocalFileStorage(c.dataDir);
        // Loaded only when configured: the AWS SDK costs ~0.3 s and ~7 MB at startup.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { S3FileStorage } = require('./s3-file-storage') as typeof import('./s3-file-storage');
        return new S3FileStorage(c.storage);
      },
    },
    UploadRepository,
    UploadService,
    UploadQuota,
    UploadReferences,
    FileDeletions,
    ChunkUploadService,
    UploadJanitor,
    { provide: STORAGE_HEALTH_OPTIONS, useValue: DEFAULT_STORAGE_HEALTH },
    StorageHealth,
  ],
  exports: [FILE_STORAGE, UploadService, ChunkUploadService, UploadJanitor, StorageHealth],
})
export class StorageModule {}
