export * from './video.entity';
