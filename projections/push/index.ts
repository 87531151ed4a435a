export * from './push.projector';
export * from './push.queries';
