export * from './upload.entity';
