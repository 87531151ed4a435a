/** Cross-cutting HTTP pieces: Matrix errors, the exception filter, CORS, request ids, metrics, discovery and health endpoints. */
export * from './matrix-error';
export * from './spec-versions';
export * from './route-table';
export * from './metrics';
export * from './exception-filter';
export * from './foundation';
export * from './json-body';
export * from './connections';
export * from './log-redaction';
export * from './tokens';
export * from './controllers';
export * from './modules';
export * from './create-app';
