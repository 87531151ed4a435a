/**
 * The storage side of a homeserver process: the database (embedded PGlite or PostgreSQL),
 * migrations, the event store and the projection runner.
 */
import type { HomeserverConfig } from '@hs/config';
import { PostgresEventStore, ProjectionLog, ProjectionRunner, Projector, type CheckpointListener } from '@hs/eventstore';
import type { HealthCheck, HomeserverMetrics } from '@hs/http';
import { Database, migrate, openDatabase } from '@hs/persistence';
import type { Logger } from 'pino';
import { sql } from 'slonik';

export interface Backend {
  db: Database;
  store: PostgresEventStore;
  /** Feeds the projectors; started by {@link openBackend} when `runProjections` is set. */
  runner: ProjectionRunner | null;
  /** SELECT 1 on the pool: what GET /health checks. */
  health: HealthCheck;
  /** Stops the projection runner, the store and the database, in that order. */
  close(): Promise<void>;
}

export interface OpenBackendOptions {
  logger: Logger;
  metrics?: HomeserverMetrics;
  /** Projectors to run in this process; none leaves the runner off (the admin CLI). */
  projectors?: readonly Projector[];
  /** Called each time a projector's checkpoint advances (the /sync notifier listens). */
  onCheckpoint?: CheckpointListener;
}

function projectionLog(logger: Logger): ProjectionLog {
  return (level, message, fields) => {
    const { error, ...rest } = fields;
    logger[level]({ ...rest, ...(error !== undefined ? { err: error } : {}) }, message);
  };
}

/** Opens the database, applies migrations, opens the event store. */
export async function openBackend(config: HomeserverConfig, options: OpenBackendOptions): Promise<Backend> {
  const log = options.logger.child({ component: 'database' });
  const db = await openDatabase({
    dataDir: config.database.data_dir,
    url: config.database.url,
    maxConnections: config.database.max_connections,
  });
  try {
    log.info({ kind: db.kind, ...(db.kind === 'pglite' ? { data_dir: config.database.data_dir } : {}) }, 'database open');
    const { applied } = await migrate(db, { log: (message) => log.info(message) });
    if (applied.length > 0) log.info({ applied }, 'migrations applied');
    const metrics = options.metrics;
    const store = await PostgresEventStore.open(db, metrics ? { onAppended: (stream, count) => metrics.recordAppended(stream, count) } : {});
    let runner: ProjectionRunner | null = null;
    if (options.projectors && options.projectors.length > 0) {
      const onCheckpoint = options.onCheckpoint;
      runner = new ProjectionRunner(db, store, options.projectors, {
        log: projectionLog(options.logger.child({ component: 'projections' })),
        ...(onCheckpoint ? { onCheckpoint } : {}),
      });
      const started = runner;
      metrics?.setProjectionStatusSource(() => started.status());
      try {
        await runner.start();
      } catch (error) {
        await runner.stop().catch(() => undefined);
        await store.close();
        throw error;
      }
      options.logger.info({ projectors: options.projectors.map((projector) => projector.name) }, 'projection runner started');
    }
    let closed = false;
    return {
      db,
      store,
      runner,
      health: {
        name: 'database',
        async check() {
          await db.pool.oneFirst(sql.unsafe`SELECT 1`);
        },
      },
      async close() {
        if (closed) return;
        closed = true;
        try {
          await runner?.stop();
          await store.close();
        } finally {
          await db.close();
        }
      },
    };
  } catch (error) {
    await db.close();
    throw error;
  }
}
