export { openDatabase, type Database, type OpenDatabaseOptions } from './database';
export type { SessionHeld } from './pglite-session-queue';
export {
  migrate,
  listMigrations,
  MigrationChecksumError,
  MigrationNameError,
  MigrationFailedError,
  type MigrateOptions,
  type MigrationFile,
} from './migrations';
export { findPackageRoot, defaultMigrationsDir } from './repo-root';
export { sqlState, sqlDetail, sqlConstraint } from './errors';
export { createTemporaryDatabase, type TemporaryDatabase } from './temporary-database';
export { openTestDatabase, type TestDatabase } from './test-database';
