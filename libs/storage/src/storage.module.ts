import { Module } from '@nestjs/common';
import { APP_CONFIG } from '@app/core';
import type { AppConfig } from '@app/core';
import { FILE_STORAGE } from './file-storage';
import { LocalFileStorage } from './local-file-storage';
import { UploadRepository } from './upload.repository';
import { UploadService } from './upload.service';

/** File storage (local disk under DATA_DIR/uploads; swap the FILE_STORAGE provider for S3) and uploads. */
@Module({
  providers: [
    {
      provide: FILE_STORAGE,
      inject: [APP_CONFIG],
      useFactory: (c: AppConfig) => new LocalFileStorage(c.dataDir),
    },
    UploadRepository,
    UploadService,
  ],
  exports: [FILE_STORAGE, UploadService],
})
export class StorageModule {}
