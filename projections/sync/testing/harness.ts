/** A PGlite database with the event store and a projection runner, for projection tests. */
import { migrate, openDatabase, type Database } from '@hs/persistence';
import { PostgresEventStore, ProjectionRunner, type CheckpointListener, type Projector } from '@hs/eventstore';

export interface ProjectionHarness {
  db: Database;
  store: PostgresEventStore;
  runner: ProjectionRunner;
  /** Resolves once every projector has applied everything appended so far. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export async function openProjectionHarness(
  projectors: Projector[],
  onCheckpoint?: CheckpointListener,
): Promise<ProjectionHarness> {
  const db = await openDatabase({ maxConnections: 6 });
  await migrate(db);
  const store = await PostgresEventStore.open(db);
  const runner = new ProjectionRunner(db, store, projectors, { batchSize: 200, ...(onCheckpoint ? { onCheckpoint } : {}) });
  await runner.start();
  return {
    db,
    store,
    runner,
    async settle() {
      await runner.waitFor(await store.headPosition());
    },
    async close() {
      await runner.stop();
      await store.close();
      await db.close();
    },
  };
}
