/**
 * A process that only runs projections (scaling out the read side):
 * `node dist/apps/projector/src/main.js [--config FILE]`. Loads the configuration, opens the
 * database, applies migrations, runs the projection runner with every projector until
 * SIGTERM/SIGINT (publishing the positions it reaches on the bus when `kafka.brokers` is set),
 * then stops the runner and closes the database. Its configuration's `roles` are not read. Exit codes: 0 after a
 * graceful shutdown, 2 for an invalid configuration, 1 for other failures.
 */
import 'reflect-metadata';
import { resolve } from 'node:path';
import { loadConfig } from '@hs/config';
import pino from 'pino';
import { runAsProcessEntryPoint, runUntilShutdown } from '../../homeserver/src/process-lifecycle';
import { startProjectorProcess } from '../../homeserver/src/projector-process';

export interface ProjectorMainOptions {
  env?: NodeJS.ProcessEnv;
  shutdownSignal?: Promise<unknown>;
  stderr?: (text: string) => void;
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
  return runUntilShutdown({ shutdownSignal: options.shutdownSignal, stderr, failureMessage: 'projector failed' }, async () => {
    const config = loadConfig(resolve(file), options.env ?? process.env);
    const logger = pino({ level: config.logging.level }).child({ process: 'projector' });
    const projector = await startProjectorProcess(config, logger);
    return { logger, stop: () => projector.stop() };
  });
}

if (require.main === module) runAsProcessEntryPoint(main);
