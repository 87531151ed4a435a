import { createTemporaryDatabase, migrate, openDatabase, type Database } from '@hs/persistence';
import {
  EventStoreDbEventStore,
  MemoryEventStore,
  PostgresEventStore,
  type EventStore,
  type EventStoreOptions,
} from '@hs/eventstore';

/** One event-store adapter under test, with the database behind it (none for memory). */
export interface AdapterUnderTest {
  name: string;
  store: EventStore;
  db?: Database;
  /** Opens a second store on the same database (another process's view). */
  reopen?(): Promise<EventStore>;
  /**
   * Opens another store of this adapter on the same backing store with these options (closed
   * by the caller). Where absent, the contract builds one from the store's class.
   */
  openWith?(options: EventStoreOptions): Promise<EventStore>;
  dispose(): Promise<void>;
}

export interface AdapterFactory {
  name: string;
  kind: 'memory' | 'pglite' | 'postgres' | 'eventstoredb';
  create(): Promise<AdapterUnderTest>;
}

async function postgresAdapter(name: string, db: Database, cleanup: () => Promise<void>): Promise<AdapterUnderTest> {
  await migrate(db);
  const store = await PostgresEventStore.open(db);
  const extra: PostgresEventStore[] = [];
  return {
    name,
    store,
    db,
    async reopen() {
      const another = await PostgresEventStore.open(db);
      extra.push(another);
      return another;
    },
    async dispose() {
      await Promise.all(extra.map((s) => s.close()));
      await store.close();
      await db.close();
      await cleanup();
    },
  };
}

/** Every adapter this machine can run: memory and PGlite always, PostgreSQL with TEST_DATABASE_URL. */
export function availableAdapters(): AdapterFactory[] {
  const factories: AdapterFactory[] = [
    {
      name: 'memory',
      kind: 'memory',
      async create() {
        const store = new MemoryEventStore();
        return { name: 'memory', store, dispose: () => store.close() };
      },
    },
    {
      name: 'pglite',
      kind: 'pglite',
      async create() {
        const db = await openDatabase({ maxConnections: 6 });
        return postgresAdapter('pglite', db, async () => undefined);
      },
    },
  ];
  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    factories.push({
      name: 'postgres',
      kind: 'postgres',
      async create() {
        const temporary = await createTemporaryDatabase(url, 'hs_contract');
        const db = await openDatabase({ url: temporary.url, maxConnections: 12 });
        return postgresAdapter('postgres', db, () => temporary.drop());
      },
    });
  } else {
    console.info('event store contract: TEST_DATABASE_URL is not set, the PostgreSQL adapter is not run');
  }
  const esdbUrl = process.env.EVENTSTORE_URL;
  if (esdbUrl) {
    // Tests use fresh random stream names, and positions relative to the head at their start; the
    // server must not be written to by anyone else while the suite runs (system events aside).
    factories.push({
      name: 'eventstoredb',
      kind: 'eventstoredb',
      async create() {
        const store = await EventStoreDbEventStore.connect(esdbUrl);
        const extra: EventStore[] = [];
        return {
          name: 'eventstoredb',
          store,
          async reopen() {
            const another = await EventStoreDbEventStore.connect(esdbUrl);
            extra.push(another);
            return another;
          },
          openWith: (options) => EventStoreDbEventStore.connect(esdbUrl, options),
          async dispose() {
            await Promise.all(extra.map((s) => s.close()));
            await store.close();
          },
        };
      },
    });
  } else {
    console.info('event store contract: EVENTSTORE_URL is not set (no EventStoreDB server is configured), the EventStoreDB adapter is not run');
  }
  console.info('event store contract: no Docker engine is used here; the testcontainers adapter is not run');
  return factories;
}
