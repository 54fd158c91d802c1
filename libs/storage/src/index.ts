export * from './upload.entity';
export * from './file-storage';
export * from './local-file-storage';
export * from './content-sniffer';
export * from './upload.repository';
export * from './upload.service';
export * from './storage.module';
