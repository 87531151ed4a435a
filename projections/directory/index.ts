export * from './directory.projector';
export * from './directory.queries';
