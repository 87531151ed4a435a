export * from './client-event';
export * from './errors';
export * from './filters';
export * from './visibility';
export * from './sync.projector';
export * from './sync.queries';
export * from './relations';
