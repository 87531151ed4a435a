export * from './token-bucket';
export * from './rate-limiter';
export * from './rate-limit.guard';
