export * from './errors';
export * from './storage';
export * from './content-disposition';
export * from './thumbnails';
export * from './media.service';
export * from './media.module';
