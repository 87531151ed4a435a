export * from './user-directory.projector';
export * from './user-directory.queries';
export * from './words';
