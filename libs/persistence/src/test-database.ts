import { openDatabase, type Database } from './database';
import { migrate } from './migrations';
import { createTemporaryDatabase } from './temporary-database';

/** A migrated database for a test suite, removed again by `close()`. */
export interface TestDatabase {
  db: Database;
  close(): Promise<void>;
}

/**
 * Opens a migrated database for tests: a temporary PostgreSQL database (named after `prefix`)
 * beside the one TEST_DATABASE_URL names when it is set, else an in-memory PGlite.
 */
export async function openTestDatabase(prefix: string, maxConnections: number): Promise<TestDatabase> {
  const url = process.env.TEST_DATABASE_URL;
  const temporary = url ? await createTemporaryDatabase(url, prefix) : undefined;
  const db = await openDatabase({ maxConnections, ...(temporary ? { url: temporary.url } : {}) });
  await migrate(db);
  return {
    db,
    async close() {
      await db.close();
      await temporary?.drop();
    },
  };
}
