/** The configured database, migrated, with its event store, for the commands that read or write it. */
import type { HomeserverConfig } from '@hs/config';
import { PostgresEventStore } from '@hs/eventstore';
import { migrate, openDatabase, type Database } from '@hs/persistence';

/** The actor of audit entries of the admin CLI. */
export const ADMIN_CLI_ACTOR = '[admin-cli]';

/** Runs `work` on the configured database (migrated first) and its event store; closes both after. */
export async function withStore<T>(config: HomeserverConfig, maxConnections: number, work: (db: Database, store: PostgresEventStore) => Promise<T>): Promise<T> {
  const db = await openDatabase({ dataDir: config.database.data_dir, url: config.database.url, maxConnections });
  try {
    await migrate(db);
    const store = await PostgresEventStore.open(db);
    try {
      return await work(db, store);
    } finally {
      await store.close();
    }
  } finally {
    await db.close();
  }
}
