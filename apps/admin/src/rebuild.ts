/** `admin rebuild <projection>`: rebuilds one projection with a progress bar. */
import { AuditLog } from '@hs/admin';
import type { HomeserverConfig } from '@hs/config';
import { rebuildProjection, type PostgresEventStore, type Projector } from '@hs/eventstore';
import type { Database } from '@hs/persistence';
import { allProjectors } from '../../homeserver/src/projectors';
import { progressBar } from './progress';
import { ADMIN_CLI_ACTOR, withStore } from './store';

export class UnknownProjectionError extends Error {
  constructor(
    readonly projection: string,
    readonly known: readonly string[],
  ) {
    super(`unknown projection "${projection}"; known projections: ${known.length > 0 ? known.join(', ') : '(none)'}`);
    this.name = 'UnknownProjectionError';
  }
}

export interface RebuildSummary {
  generation: number;
  checkpoint: bigint;
  events: bigint;
}

export async function runRebuild(config: HomeserverConfig, name: string, progressStream: NodeJS.WritableStream): Promise<RebuildSummary> {
  const projectors = allProjectors(config.server_name);
  const projector = projectors.find((candidate) => candidate.name === name);
  if (!projector) throw new UnknownProjectionError(name, projectors.map((candidate) => candidate.name));

  return withStore(config, 3, async (db, store) => {
    const audit = new AuditLog(store);
    await audit.record({ actor: ADMIN_CLI_ACTOR, action: 'projection.rebuild_started', target: name });
    const { result, events } = await rebuildWithProgress(db, store, projector, progressStream);
    await audit.record({
      actor: ADMIN_CLI_ACTOR,
      action: 'projection.rebuild_finished',
      target: name,
      details: { generation: result.generation, checkpoint: result.checkpoint.toString(), events: Number(events) },
    });
    return { ...result, events };
  });
}

/** Rebuilds one projection with a progress bar (events done of the store's count) on `progressStream`. */
export async function rebuildWithProgress(
  db: Database,
  store: PostgresEventStore,
  projector: Projector,
  progressStream: NodeJS.WritableStream,
): Promise<{ result: { generation: number; checkpoint: bigint }; events: bigint }> {
  const name = projector.name;
  const head = await store.headPosition();
  const total = await store.countBetween(0n, head);
  const bar = progressBar(progressStream, `rebuild ${name} [{bar}] {percentage}% | {value}/{total} events | {eps} events/s`);
  bar.start(Number(total), 0, { eps: 0 });
  // Progress reports positions; the events between two reports are counted in order.
  let counted = 0n;
  let lastPosition = 0n;
  let counting: Promise<void> = Promise.resolve();
  const result = await rebuildProjection(db, store, projector, {
    onProgress: ({ position, eventsPerSecond }) => {
      const from = lastPosition;
      lastPosition = position;
      counting = counting.then(async () => {
        counted += position > from ? await store.countBetween(from, position) : 0n;
        if (counted > BigInt(bar.getTotal())) bar.setTotal(Number(counted));
        bar.update(Number(counted), { eps: Math.round(eventsPerSecond) });
      });
    },
  });
  await counting;
  const events = await store.countBetween(0n, result.checkpoint);
  if (Number(events) > bar.getTotal()) bar.setTotal(Number(events));
  bar.update(Number(events));
  bar.stop();
  return { result, events };
}
