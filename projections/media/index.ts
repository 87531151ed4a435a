export * from './media.projector';
export * from './media.queries';
