export * from './projector';
export { ProjectionRunner, type ProjectionRunnerOptions, type ProjectionLog } from './runner';
export { rebuildProjection, type RebuildOptions } from './rebuild';
export { readActive, type ActiveGeneration } from './generations';
