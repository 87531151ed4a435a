/**
 * A process that only runs projections (scaling out the read side):
 * `node dist/apps/projector/src/main.js [--config FILE]`. Loads the configuration, opens the
 * database, applies migrations, runs the projection runner with every projector until
 * SIGTERM/SIGINT, then stops the runner and closes the database. Exit codes: 0 after a
 * graceful shutdown, 2 for an invalid configuration, 1 for other failures.
 */
import 'reflect-metadata';
import { resolve } from 'node:path';
import { CONFIG_ERROR_EXIT_CODE, ConfigError, loadConfig } from '@hs/config';
import pino from 'pino';
import { openBackend } from '../../homeserver/src/backend';
import { allProjectors } from '../../homeserver/src/projectors';

export interface ProjectorMainOptions {
  env?: NodeJS.ProcessEnv;
  shutdownSignal?: Promise<unknown>;
  stderr?: (text: string) => void;
}

function signals(): Promise<NodeJS.Signals> {
  return new Promise((resolveSignal) => {
    const handler = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
      resolveSignal(signal);
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  });
}

export async function main(argv: readonly string[], options: ProjectorMainOptions = {}): Promise<number> {
  const stderr = options.stderr ?? ((text: string) => process.stderr.write(text));
  let file = 'homeserver.yaml';
  for (let i = 0; i < argv.length; i += 1) {
    if ((argv[i] === '--config' || argv[i] === '-c') && argv[i + 1] !== undefined) file = argv[++i];
    else if (argv[i].startsWith('--config=')) file = argv[i].slice('--config='.length);
    else {
      stderr(`unknown argument ${argv[i]}\nusage: projector [--config FILE]\n`);
      return 64;
    }
  }
  const bootLogger = pino({ level: 'info' });
  try {
    const config = loadConfig(resolve(file), options.env ?? process.env);
    const logger = pino({ level: config.logging.level }).child({ process: 'projector' });
    const projectors = allProjectors();
    const backend = await openBackend(config, { logger, projectors });
    logger.info({ projectors: projectors.map((projector) => projector.name) }, 'projector running');
    const signal = await (options.shutdownSignal ?? signals());
    logger.info({ signal }, 'shutdown requested');
    await backend.close();
    logger.info('shut down');
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      stderr(`${error.message}\n`);
      return CONFIG_ERROR_EXIT_CODE;
    }
    bootLogger.fatal({ err: error }, 'projector failed');
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      setTimeout(() => process.exit(code), 200).unref();
    },
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(1);
    },
  );
}
