/** Configuration of the homeserver: the schema, loading with environment overrides, and generated files. */
export * from './types';
export { SERVER_ROLES, configSchema, isHttpUrl, keyDoc } from './schema';
export type { KeyDoc, ConfigInput, ValidatedConfig } from './schema';
export * from './describe';
export * from './load';
export * from './sample';
export * from './generate';
