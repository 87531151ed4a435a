import type { Database } from '@hs/persistence';
import type { EventStore } from '../types';
import { applyBatch, createNextGeneration, dropGeneration, ensureProjection, persistCheckpoint, swapGeneration } from './generations';
import { selectEvents, validateProjector, type Projector, type RebuildProgress } from './projector';

export interface RebuildOptions {
  /** Called after each batch; a returned promise is awaited before the next batch. */
  onProgress?: (progress: RebuildProgress) => void | Promise<void>;
  /** Events per batch (default 1000). */
  batchSize?: number;
  signal?: AbortSignal;
}

const CAUGHT_UP_RETRY_MS = 20;

/**
 * Builds a fresh generation of `projector` from position 0 beside the live one (which keeps
 * serving and, if a runner is running, keeps advancing), then swaps it in atomically once it
 * has caught up. Returns the new generation number.
 */
export async function rebuildProjection(
  db: Database,
  store: EventStore,
  projector: Projector,
  options: RebuildOptions = {},
): Promise<{ generation: number; checkpoint: bigint }> {
  validateProjector(projector);
  const batchSize = options.batchSize ?? 1000;
  await ensureProjection(db.pool, projector);
  const generation = await createNextGeneration(db.pool, projector);
  const started = Date.now();
  let processed = 0;
  let checkpoint = 0n;
  /** The checkpoint stored for the new generation (batches with nothing to apply are not written). */
  let persisted = 0n;
  try {
    while (true) {
      if (options.signal?.aborted) throw new Error(`rebuild of ${projector.name} aborted`);
      const batch = await store.readAll({ fromPosition: checkpoint, limit: batchSize });
      if (batch.length > 0) {
        if (selectEvents(projector, batch).length > 0) {
          const outcome = await applyBatch(db.pool, projector, generation, persisted, batch, false);
          if (outcome.kind !== 'applied') throw changed(projector, generation);
          persisted = outcome.checkpoint;
        }
        checkpoint = batch[batch.length - 1].position;
        processed += batch.length;
        if (options.onProgress) {
          const seconds = Math.max((Date.now() - started) / 1000, 0.001);
          await options.onProgress({ position: checkpoint, head: await store.headPosition(), eventsPerSecond: processed / seconds });
        }
        if (batch.length === batchSize) continue;
      }
      if (persisted !== checkpoint) {
        const outcome = await persistCheckpoint(db.pool, projector, generation, persisted, checkpoint, false);
        if (outcome.kind !== 'applied') throw changed(projector, generation);
        persisted = checkpoint;
      }
      if (await swapGeneration(db.pool, projector, generation)) return { generation, checkpoint };
      // The live generation is ahead (events arrived since the last read): catch up again.
      await new Promise((resolve) => setTimeout(resolve, CAUGHT_UP_RETRY_MS));
    }
  } catch (error) {
    await dropGeneration(db.pool, projector.name, generation).catch(() => undefined);
    throw error;
  }
}

function changed(projector: Projector, generation: number): Error {
  return new Error(`generation ${generation} of ${projector.name} changed during its rebuild`);
}
