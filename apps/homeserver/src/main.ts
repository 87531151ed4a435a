/**
 * Entry point: `node dist/apps/homeserver/src/main.js [--config FILE]` (`npm start`).
 * Without --config it uses ./homeserver.yaml and, on first run, generates it (server name
 * localhost, embedded database in ./data, keys beside it). Exit codes: 0 after a graceful
 * shutdown (SIGTERM, SIGINT), 2 for an invalid configuration, 1 for other start-up failures.
 */
import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { generateConfigFiles, loadConfig } from '@hs/config';
import { redactingLoggerOptions } from '@hs/http';
import pino from 'pino';
import { startHomeserver } from './homeserver';
import { startIdleMemoryTrimmer } from './idle-memory';
import { tuneNativeHeap } from './native-heap';
import { runAsProcessEntryPoint, runUntilShutdown } from './process-lifecycle';
import { onlyProjects, startProjectorProcess } from './projector-process';

export const DEFAULT_CONFIG_FILE = 'homeserver.yaml';

interface Arguments {
  config?: string;
  help: boolean;
}

function parseArguments(argv: readonly string[]): Arguments {
  const args: Arguments = { help: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') args.help = true;
    else if (arg === '--config' || arg === '-c') {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith('-')) throw new UsageError('--config needs a file name');
      args.config = value;
      i += 1;
    } else if (arg.startsWith('--config=')) args.config = arg.slice('--config='.length);
    else throw new UsageError(`unknown argument ${arg}`);
  }
  return args;
}

class UsageError extends Error {}

const USAGE = 'usage: homeserver [--config FILE]   (default ./homeserver.yaml, generated on first run)\n';

export interface MainOptions {
  env?: NodeJS.ProcessEnv;
  /** Resolves once the process should shut down (signals); defaults to SIGTERM/SIGINT. */
  shutdownSignal?: Promise<unknown>;
  stderr?: (text: string) => void;
}

/** Runs the homeserver until a shutdown signal; resolves with the process exit code. */
export async function main(argv: readonly string[], options: MainOptions = {}): Promise<number> {
  const stderr = options.stderr ?? ((text: string) => process.stderr.write(text));
  const env = options.env ?? process.env;
  let args: Arguments;
  try {
    args = parseArguments(argv);
  } catch (error) {
    stderr(`${(error as Error).message}\n${USAGE}`);
    return 64;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  return runUntilShutdown(
    {
      shutdownSignal: options.shutdownSignal,
      stderr,
      failureMessage: 'homeserver failed to start',
      bootLoggerOptions: redactingLoggerOptions('info'),
    },
    async (bootLogger) => {
      const file = resolve(args.config ?? DEFAULT_CONFIG_FILE);
      if (args.config === undefined && !existsSync(file)) {
        const generated = await generateConfigFiles({ serverName: 'localhost', out: file });
        bootLogger.info(
          { config: generated.configPath, signing_key: generated.signingKeyPath, key_id: generated.keyId, tls_certificate: generated.tlsCertificatePath },
          'no configuration found: generated one for server name localhost',
        );
      }
      const config = loadConfig(file, env);
      const logger = pino(redactingLoggerOptions(config.logging.level));
      logger.info({ config: file, server_name: config.server_name, roles: config.roles }, 'starting homeserver');
      if (onlyProjects(config.roles)) {
        const projector = await startProjectorProcess(config, logger);
        return { logger, stop: () => projector.stop() };
      }
      const nativeHeap = await tuneNativeHeap();
      if (nativeHeap.applied) logger.debug({ mmap_threshold_bytes: nativeHeap.mmapThresholdBytes }, 'native heap: fixed mmap threshold');
      else logger.debug({ reason: nativeHeap.reason }, 'native heap settings left as they are');
      const server = await startHomeserver(config, logger);
      const trimmer = startIdleMemoryTrimmer({
        onCollected: (r) =>
          logger.debug({ heap_used_before: r.heapUsedBefore, heap_used_after: r.heapUsedAfter, rss_after: r.rssAfter, ms: Math.round(r.ms) }, 'quiet after a burst: memory given back'),
      });
      if (!trimmer.active) logger.info('node runs without --expose-gc: memory a burst of load used is given back only as V8 sees fit');
      return {
        logger,
        stop: () => {
          trimmer.stop();
          return server.close();
        },
      };
    },
  );
}

if (require.main === module) runAsProcessEntryPoint(main);
