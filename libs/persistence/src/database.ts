import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { PGlite } from '@electric-sql/pglite';
import type { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { createPool, type DatabasePool } from 'slonik';
import { PgliteSessionQueue, type SessionHeld } from './pglite-session-queue';
import { prepareStatementsFor } from './prepared-statements';
import { trackTransactions } from './transaction-context';

/** `application_name` of the homeserver's PostgreSQL connections (unless the URL names one). */
export const APPLICATION_NAME = 'matrix-cqrs-homeserver';

export interface OpenDatabaseOptions {
  /** Folder of the embedded database (PGlite); used when `url` is not set. Omitted: in memory. */
  dataDir?: string;
  /** A PostgreSQL connection URL; when set, PostgreSQL is used. */
  url?: string;
  /** Size of the connection pool (default 10). */
  maxConnections?: number;
  /**
   * Embedded database only: called when one connection has held PGlite's single session for
   * two seconds while other connections wait (a transaction left open across slow work).
   */
  onSessionHeld?: (held: SessionHeld) => void;
}

/**
 * An open database: a slonik pool that speaks to PostgreSQL, or to an embedded PGlite
 * served on a loopback socket so that both run the same code path.
 */
export interface Database {
  kind: 'pglite' | 'postgres';
  pool: DatabasePool;
  /** A URL an ordinary PostgreSQL client (e.g. a `pg.Client` for LISTEN) can connect to. */
  connectionUrl: string;
  /** Ends the pool; for PGlite also stops the socket server and closes the data folder. */
  close(): Promise<void>;
}

const DEFAULT_POOL_SIZE = 10;

/**
 * PostgreSQL settings of the embedded database. PGlite's WebAssembly heap never shrinks, so
 * its shared buffers are what it keeps resident: 32 MB instead of PostgreSQL's 128 MB keeps
 * an idle server small, and the operating system's file cache still holds the data files.
 */
const PGLITE_SETTINGS = ['shared_buffers = 32MB'];

/**
 * Creates a new embedded data folder in a short-lived child process. Initialising a cluster
 * (initdb) grows the WebAssembly heap to several hundred megabytes, which a process keeps
 * for its lifetime; the server then opens the finished folder at a fraction of that.
 */
async function initialisePgliteDataDir(dir: string): Promise<void> {
  if (existsSync(join(dir, 'PG_VERSION'))) return;
  const script = [
    `const { PGlite } = require(${JSON.stringify(require.resolve('@electric-sql/pglite'))});`,
    `PGlite.create(${JSON.stringify(dir)}, { postgresqlconf: ${JSON.stringify(PGLITE_SETTINGS)} })`,
    '  .then((db) => db.close())',
    '  .catch((error) => { console.error(error); process.exit(1); });',
  ].join('\n');
  try {
    await promisify(execFile)(process.execPath, ['-e', script], { env: { ...process.env, NODE_OPTIONS: '' } });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`could not create the embedded database in ${dir}: ${stderr.trim() || (error as Error).message}`);
  }
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  const poolSize = options.maxConnections ?? DEFAULT_POOL_SIZE;
  if (!Number.isInteger(poolSize) || poolSize < 1) {
    throw new RangeError(`maxConnections must be a positive integer, got ${String(options.maxConnections)}`);
  }
  if (options.url) return openPostgres(options.url, poolSize);
  return openPglite(options.dataDir, poolSize, options.onSessionHeld);
}

/**
 * Opens the slonik pool. slonik also emits every failed query as an 'error' event on the
 * pool; the query itself rejects with that error for its caller to handle, so the event is
 * only acknowledged here (without a listener, Node would turn it into an unrelated
 * ERR_UNHANDLED_ERROR thrown in place of the database error).
 *
 * A connection goes back to the pool as it is: slonik's default sends `DISCARD ALL` after
 * every use (a second round trip for each query). Nothing here leaves session state behind:
 * settings are transaction-local (`set_config(…, true)`), transactions end before their
 * connection is released, LISTEN and the migrations use connections of their own.
 */
async function createDatabasePool(url: string, poolSize: number, embedded = false): Promise<DatabasePool> {
  const pool = await createPool(url, {
    maximumPoolSize: poolSize,
    queryRetryLimit: 0,
    transactionRetryLimit: 0,
    resetConnection: async () => undefined,
    // The embedded database serves one session at a time: opening a connection waits until
    // the session is free, which under load takes longer than the 5 s slonik gives it. Its
    // connections are in-process sockets, so they stay open instead of closing after 5 s
    // idle and queueing to open again at the next burst.
    ...(embedded ? { connectionTimeout: 60_000, idleTimeout: 'DISABLE_TIMEOUT' as const } : {}),
  });
  pool.on('error', () => undefined);
  trackTransactions(pool);
  return pool;
}

/**
 * PostgreSQL: the connections carry an `application_name` (the URL's, else
 * {@link APPLICATION_NAME}; shown in `pg_stat_activity`), under which their frequent
 * statements are sent as named prepared statements (see prepared-statements.ts).
 */
async function openPostgres(given: string, poolSize: number): Promise<Database> {
  const parsed = new URL(given);
  if (!parsed.searchParams.get('application_name')) parsed.searchParams.set('application_name', APPLICATION_NAME);
  const url = parsed.toString();
  prepareStatementsFor(parsed.searchParams.get('application_name') ?? APPLICATION_NAME);
  const pool = await createDatabasePool(url, poolSize);
  let closed = false;
  return {
    kind: 'postgres',
    pool,
    connectionUrl: url,
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

/** Swaps the socket server's message queue for one that keeps protocol exchanges whole. */
function installSessionQueue(server: PGLiteSocketServer, pglite: PGlite, onHeld: ((held: SessionHeld) => void) | undefined): PgliteSessionQueue {
  const internals = server as unknown as { queryQueue?: unknown };
  if (typeof internals.queryQueue !== 'object' || internals.queryQueue === null) {
    throw new Error('@electric-sql/pglite-socket changed: the server has no queryQueue to replace');
  }
  const queue = new PgliteSessionQueue(pglite, onHeld ? { onHeld } : {});
  internals.queryQueue = queue;
  return queue;
}

/**
 * A fresh in-memory cluster, as the first in-memory database of this process found it before
 * any use: later in-memory databases start from it instead of running initdb again (a third
 * of the time; tests open hundreds).
 */
let freshCluster: Promise<Blob> | undefined;

async function openPglite(dataDir: string | undefined, poolSize: number, onHeld: ((held: SessionHeld) => void) | undefined): Promise<Database> {
  // Loaded here, not at the top of the module: a server on PostgreSQL never needs the
  // embedded database's code (half a megabyte of JavaScript, kept in memory once loaded).
  const [{ PGlite }, { PGLiteSocketServer }] = await Promise.all([import('@electric-sql/pglite'), import('@electric-sql/pglite-socket')]);
  let dir: string | undefined;
  if (dataDir !== undefined) {
    dir = resolve(dataDir);
    mkdirSync(dir, { recursive: true });
    await initialisePgliteDataDir(dir);
  }
  let pglite: InstanceType<typeof PGlite>;
  const snapshot = dir === undefined ? freshCluster : undefined;
  if (snapshot !== undefined) {
    pglite = await PGlite.create({ loadDataDir: await snapshot, postgresqlconf: PGLITE_SETTINGS });
  } else {
    pglite = await PGlite.create(dir, { postgresqlconf: PGLITE_SETTINGS });
    if (dir === undefined) {
      // Taken before anything else reaches the cluster; a failed one is taken again next time.
      const dump = pglite.dumpDataDir('none');
      freshCluster = dump;
      await dump.catch(() => {
        if (freshCluster === dump) freshCluster = undefined;
      });
    }
  }
  // PGlite runs one backend: the socket server queues every connection's queries and,
  // while one connection has a transaction open, runs only that connection's queries.
  // A few spare connections beyond the pool serve LISTEN clients and admin tools.
  const server = new PGLiteSocketServer({ db: pglite, port: 0, host: '127.0.0.1', maxConnections: poolSize + 4 });
  const queue = installSessionQueue(server, pglite, onHeld);
  try {
    await server.start();
  } catch (error) {
    queue.close();
    await pglite.close();
    throw error;
  }
  const connectionUrl = `postgres://postgres@${server.getServerConn()}/postgres`;
  let pool: DatabasePool;
  try {
    pool = await createDatabasePool(connectionUrl, poolSize, true);
  } catch (error) {
    queue.close();
    await server.stop();
    await pglite.close();
    throw error;
  }
  let closed = false;
  return {
    kind: 'pglite',
    pool,
    connectionUrl,
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
      queue.close();
      await server.stop();
      await pglite.close();
    },
  };
}
