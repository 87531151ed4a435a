/**
 * The homeserver in this process (`startHomeserver`) for HTTP suites: a free port on
 * 127.0.0.1, a temporary embedded database (or, where asked, a temporary PostgreSQL
 * database when TEST_DATABASE_URL is set), no federation listener, registration open,
 * rate limits as asked, cheap password hashing.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateConfigFiles, loadConfig, type HomeserverConfig } from '@hs/config';
import { createTemporaryDatabase, type TemporaryDatabase } from '@hs/persistence';
import pino from 'pino';
import { startHomeserver, type RunningHomeserver, type StartHomeserverOptions } from '../../apps/homeserver/src/homeserver';

export interface InProcessServer {
  url: string;
  serverName: string;
  config: HomeserverConfig;
  server: RunningHomeserver;
  close(): Promise<void>;
}

export interface InProcessOptions {
  /** Turns the rate limits on (off by default). */
  rateLimits?: boolean;
  /** Configuration overrides as `HS_*` environment variables, applied last. */
  env?: Record<string, string>;
  /** The server's clock (milliseconds since the epoch). */
  clock?: () => number;
  /** Runs on a temporary PostgreSQL database when TEST_DATABASE_URL is set (else embedded). */
  postgresFromEnv?: boolean;
  /** Further modules of federation endpoints (with HS_FEDERATION_LISTENER__ENABLED=true in `env`). */
  federationModules?: StartHomeserverOptions['federationModules'];
  /**
   * A folder the caller owns: the configuration, keys and embedded database are made there on
   * the first start and reused by the next (a restart); close() leaves it in place. With it the
   * database is always the embedded one.
   */
  dir?: string;
}

export async function startInProcess(options: InProcessOptions = {}): Promise<InProcessServer> {
  const owned = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'hs-in-process-'));
  const removeDir = () => {
    if (owned) rmSync(dir, { recursive: true, force: true });
  };
  let database: TemporaryDatabase | undefined;
  try {
    if (options.postgresFromEnv && process.env.TEST_DATABASE_URL && owned) database = await createTemporaryDatabase(process.env.TEST_DATABASE_URL, 'hs_cs_api');
    const file = join(dir, 'homeserver.yaml');
    if (!existsSync(file)) await generateConfigFiles({ serverName: 'localhost', out: file, clientPort: 0, databaseUrl: database?.url });
    const config = loadConfig(file, {
      HS_CLIENT_LISTENER__BIND_ADDRESS: '127.0.0.1',
      HS_FEDERATION_LISTENER__ENABLED: 'false',
      HS_REGISTRATION__ENABLED: 'true',
      HS_RATE_LIMITS__ENABLED: options.rateLimits ? 'true' : 'false',
      ...options.env,
    });
    const server = await startHomeserver(config, pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }, pino.destination(2)), {
      accounts: { passwordHashing: { memoryCost: 1024, timeCost: 1, parallelism: 1 } },
      clock: options.clock,
      federationModules: options.federationModules,
    });
    return {
      url: server.clientUrl!,
      serverName: config.server_name,
      config,
      server,
      async close() {
        await server.close();
        await database?.drop();
        removeDir();
      },
    };
  } catch (error) {
    await database?.drop();
    removeDir();
    throw error;
  }
}
