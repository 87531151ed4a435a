export * from './x-matrix';
export * from './server-keys';
