/**
 * The storage side of a homeserver process: the database (embedded PGlite or PostgreSQL),
 * migrations, the event store and the projection runner.
 */
import type { HomeserverConfig } from '@hs/config';
import {
  PostgresEventStore,
  ProjectionLog,
  ProjectionRunner,
  Projector,
  ReadBarrier,
  processHorizon,
  storeHorizon,
  type CheckpointListener,
} from '@hs/eventstore';
import type { HealthCheck, HomeserverMetrics } from '@hs/http';
import { Database, migrate, openDatabase } from '@hs/persistence';
import type { Logger } from 'pino';
import { sql } from 'slonik';

export interface Backend {
  db: Database;
  store: PostgresEventStore;
  /** Feeds the projectors; started by {@link openBackend} when `runProjections` is set. */
  runner: ProjectionRunner | null;
  /**
   * Reads of the read models wait here until they reflect every acknowledged write; the
   * runner's projectors are declared to it and advanced by their checkpoints.
   */
  readBarrier: ReadBarrier;
  /** What GET /health checks: SELECT 1 on the pool, and read models that lag (degraded). */
  health: HealthCheck[];
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
  /**
   * Several processes share the database: the projections run in one of them only. The
   * process holds a PostgreSQL advisory lock while it runs them; another one started with the
   * projector role waits for the lock (a standby) and takes over when the holder stops or dies.
   */
  exclusiveProjections?: boolean;
}

/** Advisory-lock key of the process that runs the projections. */
const PROJECTION_RUNNER_LOCK = 'hs.projection-runner';

/** What a process logs while it waits for an advisory lock and once it holds it. */
export interface AdvisoryLockMessages {
  standingBy: string;
  tookOver: string;
}

/**
 * Takes the advisory lock `name` on a connection of its own, waiting while another process
 * holds it; resolves to what releases it, or to null when `signal` aborted the wait. The lock
 * goes with the connection: when the holding process dies, PostgreSQL releases it.
 */
export async function holdAdvisoryLock(db: Database, name: string, logger: Logger, messages: AdvisoryLockMessages, signal?: AbortSignal): Promise<(() => Promise<void>) | null> {
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  const acquired = new Promise<boolean>((resolve, reject) => {
    const held = db.pool.connect(async (connection) => {
      let waiting = false;
      while (!(await connection.oneFirst(sql.unsafe`SELECT pg_try_advisory_lock(hashtext(${name}))`))) {
        if (!waiting) logger.warn(messages.standingBy);
        waiting = true;
        await new Promise((wake) => setTimeout(wake, 1000));
        if (signal?.aborted) {
          resolve(false);
          return;
        }
      }
      if (waiting) logger.info(messages.tookOver);
      resolve(true);
      await released;
      await connection.query(sql.unsafe`SELECT pg_advisory_unlock(hashtext(${name}))`);
    });
    held.catch(reject);
  });
  if (!(await acquired)) return null;
  return async () => release();
}

function projectionLog(logger: Logger): ProjectionLog {
  return (level, message, fields) => {
    const { error, ...rest } = fields;
    logger[level]({ ...rest, ...(error !== undefined ? { err: error } : {}) }, message);
  };
}

/**
 * The read barrier of the configuration: waits for this process's acknowledged writes (or the
 * store's committed head), logs and counts what reads waited, warns when a read model lags.
 */
function openReadBarrier(config: HomeserverConfig, store: PostgresEventStore, logger: Logger, metrics: HomeserverMetrics | undefined): ReadBarrier {
  const log = logger.child({ component: 'read-barrier' });
  const settings = config.read_consistency;
  // Several processes (a bus is configured) write to one store: only its committed head is the truth.
  const horizon = settings.horizon === 'store' || config.kafka.brokers.length > 0 ? storeHorizon(store) : processHorizon(store);
  return new ReadBarrier(horizon, {
    enabled: settings.enabled,
    maxWaitMs: settings.max_wait_ms,
    ...(metrics ? { observe: (readModel: string, seconds: number, timedOut: boolean) => metrics.observeReadWait(readModel, seconds, timedOut) } : {}),
    onLagging: (lag) => {
      // The lag in events, for the operator; the read itself has already answered.
      store
        .countBetween(lag.position, lag.target)
        .catch(() => undefined)
        .then((events) =>
          log.warn(
            { read_model: lag.readModel, position: String(lag.position), target: String(lag.target), lag_events: events === undefined ? null : Number(events), max_wait_ms: settings.max_wait_ms },
            'a read model lags behind acknowledged writes: reads answer from what it holds until it catches up',
          ),
        );
    },
  });
}

/** Opens the database, applies migrations, opens the event store. */
export async function openBackend(config: HomeserverConfig, options: OpenBackendOptions): Promise<Backend> {
  const log = options.logger.child({ component: 'database' });
  const db = await openDatabase({
    dataDir: config.database.data_dir,
    url: config.database.url,
    maxConnections: config.database.max_connections,
    onSessionHeld: (held) =>
      log.warn(
        { held_ms: held.heldMs, waiting: held.waiting, in_transaction: held.inTransaction, last_statement: held.lastStatement },
        'one connection has held the embedded database for a long time while others wait',
      ),
  });
  try {
    log.info({ kind: db.kind, ...(db.kind === 'pglite' ? { data_dir: config.database.data_dir } : {}) }, 'database open');
    const { applied } = await migrate(db, { log: (message) => log.info(message) });
    if (applied.length > 0) log.info({ applied }, 'migrations applied');
    const metrics = options.metrics;
    const store = await PostgresEventStore.open(db, metrics ? { onAppended: (stream, count) => metrics.recordAppended(stream, count) } : {});
    const readBarrier = openReadBarrier(config, store, options.logger, metrics);
    let runner: ProjectionRunner | null = null;
    let releaseLock: (() => Promise<void>) | undefined;
    if (options.projectors && options.projectors.length > 0) {
      if (options.exclusiveProjections && db.kind === 'postgres') {
        releaseLock =
          (await holdAdvisoryLock(db, PROJECTION_RUNNER_LOCK, options.logger.child({ component: 'projections' }), {
            standingBy: 'another process runs the projections: this one stands by and takes over when it stops',
            tookOver: "the projections are this process's now",
          })) ?? undefined;
      }
      const onCheckpoint = options.onCheckpoint;
      for (const projector of options.projectors) readBarrier.declare(projector.name);
      runner = new ProjectionRunner(db, store, options.projectors, {
        log: projectionLog(options.logger.child({ component: 'projections' })),
        onCheckpoint: (name, position, wrote, written) => {
          readBarrier.advance(name, position);
          onCheckpoint?.(name, position, wrote, written);
        },
      });
      const started = runner;
      metrics?.setProjectionStatusSource(() => started.status());
      try {
        await runner.start();
      } catch (error) {
        await runner.stop().catch(() => undefined);
        await releaseLock?.();
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
      readBarrier,
      health: [
        {
          name: 'database',
          async check() {
            await db.pool.oneFirst(sql.unsafe`SELECT 1`);
          },
        },
        {
          name: 'read_models',
          async check() {
            const lagging = readBarrier.lagging();
            if (lagging.length === 0) return;
            return { degraded: `lagging behind acknowledged writes: ${lagging.map((lag) => lag.readModel).join(', ')}` };
          },
        },
      ],
      async close() {
        if (closed) return;
        closed = true;
        try {
          await runner?.stop();
          await releaseLock?.();
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
