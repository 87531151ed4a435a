/** `admin migrate`: applies pending migrations to the configured database. */
import type { HomeserverConfig } from '@hs/config';
import { MigrationChecksumError, migrate, openDatabase } from '@hs/persistence';
import { CommandFailure } from './errors';

export async function runMigrate(config: HomeserverConfig, log: (line: string) => void): Promise<string[]> {
  const db = await openDatabase({ dataDir: config.database.data_dir, url: config.database.url, maxConnections: 2 });
  try {
    const { applied } = await migrate(db, { log });
    return applied;
  } catch (error) {
    if (error instanceof MigrationChecksumError) throw new CommandFailure(`${error.message}; migrations are forward-only: restore the file and add a new migration instead`);
    throw error;
  } finally {
    await db.close();
  }
}
