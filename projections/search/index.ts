export * from './search.projector';
export * from './search.queries';
