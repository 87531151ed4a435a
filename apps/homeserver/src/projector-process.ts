/**
 * A process that only runs projections (the `projector` role alone): the database, the event
 * store and the projection runner with every projector, and, when a bus is configured, the
 * positions the projections reach published to the other processes.
 */
import type { HomeserverConfig } from '@hs/config';
import type { Logger } from 'pino';
import { openBackend, type Backend } from './backend';
import { allProjectors } from './projectors';
import { openBus, publishCheckpoints } from './scale-out';

export interface RunningProjector {
  backend: Backend;
  /** Stops the runner (its checkpoints stored), then the bus and the database. */
  stop(): Promise<void>;
}

/** Whether a process with these roles runs projections and nothing else. */
export function onlyProjects(roles: readonly string[]): boolean {
  return roles.length === 1 && roles[0] === 'projector';
}

export async function startProjectorProcess(config: HomeserverConfig, logger: Logger): Promise<RunningProjector> {
  const bus = await openBus(config, logger);
  const publisher = bus ? publishCheckpoints(bus, logger.child({ component: 'bus' })) : null;
  const projectors = allProjectors(config.server_name);
  let backend: Backend;
  try {
    backend = await openBackend(config, { logger, projectors, exclusiveProjections: bus !== null, ...(publisher ? { onCheckpoint: publisher.listener } : {}) });
  } catch (error) {
    await publisher?.stop();
    await bus?.close();
    throw error;
  }
  logger.info({ projectors: projectors.map((projector) => projector.name), bus: bus?.kind ?? null }, 'projector running');
  return {
    backend,
    async stop() {
      await backend.close();
      await publisher?.stop();
      await bus?.close();
      logger.info('shut down');
    },
  };
}
