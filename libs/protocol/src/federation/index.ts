export * from './x-matrix';
export * from './server-keys';
export * from './glob';
export * from './server-acl';
