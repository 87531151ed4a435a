/**
 * Start-up and shutdown of a long-running server process (the homeserver, a projector
 * process): run until SIGTERM/SIGINT, stop cleanly, and map failures to exit codes
 * (0 after a graceful shutdown, 2 for an invalid configuration, 1 for other failures).
 */
import { CONFIG_ERROR_EXIT_CODE, ConfigError } from '@hs/config';
import pino, { type Logger, type LoggerOptions } from 'pino';

/** Resolves with the first SIGTERM or SIGINT the process receives. */
export function shutdownSignals(): Promise<NodeJS.Signals> {
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

/** A started service: the logger it reports on, and how to stop it. */
export interface RunningService {
  logger: Logger;
  stop(): Promise<void>;
}

export interface RunUntilShutdownOptions {
  /** Resolves once the process should shut down; defaults to SIGTERM/SIGINT. */
  shutdownSignal?: Promise<unknown>;
  stderr: (text: string) => void;
  /** Message logged (fatal) when starting or stopping fails for another reason than the configuration. */
  failureMessage: string;
  /** Options of the boot logger (its level is info). */
  bootLoggerOptions?: LoggerOptions;
}

/**
 * Starts a service, waits for the shutdown signal, stops it, and resolves with the exit
 * code. `start` receives a boot logger for messages written before the configuration
 * (and so the configured log level) is known.
 */
export async function runUntilShutdown(
  options: RunUntilShutdownOptions,
  start: (bootLogger: Logger) => Promise<RunningService>,
): Promise<number> {
  const bootLogger = pino({ ...options.bootLoggerOptions, level: 'info' });
  try {
    const service = await start(bootLogger);
    const signal = await (options.shutdownSignal ?? shutdownSignals());
    service.logger.info({ signal }, 'shutdown requested');
    await service.stop();
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      options.stderr(`${error.message}\n`);
      return CONFIG_ERROR_EXIT_CODE;
    }
    bootLogger.fatal({ err: error }, options.failureMessage);
    return 1;
  }
}

/**
 * Runs `main` as the process entry point: sets the exit code it resolves with, then leaves
 * after a short delay that lets pino flush, even if a stray handle (an idle socket) is
 * still open.
 */
export function runAsProcessEntryPoint(main: (argv: readonly string[]) => Promise<number>): void {
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
