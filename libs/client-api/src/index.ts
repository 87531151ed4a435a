/** The client-server API: controllers for /_matrix/client/*, the access-token guard and rate limits. */
export * from './prefixes';
export * from './config';
export * from './auth';
export * from './rate-limit';
export * from './client-api.module';
