export * from './errors';
export * from './server-name';
export * from './ids';
