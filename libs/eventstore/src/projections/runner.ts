import type { Database } from '@hs/persistence';
import type { AllSubscription, EventStore } from '../types';
import { applyBatch, ensureProjection, readActive } from './generations';
import { rebuildProjection } from './rebuild';
import { validateProjector, type ProjectionStatus, type Projector } from './projector';

export type ProjectionLog = (
  level: 'info' | 'warn' | 'error',
  message: string,
  fields: { projector: string; error?: unknown; attempt?: number; retryInMs?: number },
) => void;

export interface ProjectionRunnerOptions {
  /** Events per batch (default 500). */
  batchSize?: number;
  /** First retry delay of a failing projector (default 100 ms), doubled up to `maxBackoffMs`. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  log?: ProjectionLog;
  /** Called each time a projector's checkpoint advances (its rows up to `position` are committed). */
  onCheckpoint?: (name: string, position: bigint) => void;
}

interface Lane {
  projector: Projector;
  generation: number;
  checkpoint: bigint;
  failing: boolean;
  lastError?: string;
  rebuilding: boolean;
  subscription?: AllSubscription;
  waiters: { position: bigint; resolve: () => void }[];
}

/** Ends a subscription so that the lane re-reads its active generation and checkpoint. */
class Resync extends Error {}

const defaultLog: ProjectionLog = (level, message, fields) => {
  if (level !== 'info') console.warn(`[projection ${fields.projector}] ${message}`, fields.error ?? '');
};

/**
 * Feeds each projector from `$all`: one subscription per projector, each batch committed
 * with its checkpoint. A failing projector stays at its checkpoint and retries with
 * exponential backoff while the others go on. A projector whose version differs from the
 * stored one is rebuilt into a new generation while the old one keeps serving.
 */
export class ProjectionRunner {
  private readonly lanes = new Map<string, Lane>();
  private running = false;
  private readonly abort = new AbortController();
  private readonly loops: Promise<void>[] = [];
  private readonly log: ProjectionLog;

  constructor(
    private readonly db: Database,
    private readonly store: EventStore,
    projectors: readonly Projector[],
    private readonly options: ProjectionRunnerOptions = {},
  ) {
    this.log = options.log ?? defaultLog;
    for (const projector of projectors) {
      validateProjector(projector);
      if (this.lanes.has(projector.name)) throw new Error(`two projectors named ${projector.name}`);
      this.lanes.set(projector.name, {
        projector,
        generation: 0,
        checkpoint: 0n,
        failing: false,
        rebuilding: false,
        waiters: [],
      });
    }
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    for (const lane of this.lanes.values()) {
      const active = await ensureProjection(this.db.pool, lane.projector);
      lane.generation = active.generation;
      // While a new version is being rebuilt, the projector has applied nothing yet.
      lane.checkpoint = active.version === lane.projector.version ? active.checkpoint : 0n;
      this.loops.push(this.runLane(lane, active.version !== lane.projector.version));
    }
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort.abort();
    await Promise.all([...this.lanes.values()].map((lane) => lane.subscription?.close()));
    await Promise.all(this.loops);
  }

  async status(): Promise<ProjectionStatus[]> {
    const head = await this.store.headPosition();
    const result: ProjectionStatus[] = [];
    for (const lane of this.lanes.values()) {
      const lag = lane.checkpoint >= head ? 0n : await this.store.countBetween(lane.checkpoint, head);
      result.push({
        name: lane.projector.name,
        version: lane.projector.version,
        generation: lane.generation,
        checkpoint: lane.checkpoint,
        head,
        lag,
        failing: lane.failing,
        ...(lane.lastError !== undefined ? { lastError: lane.lastError } : {}),
        rebuilding: lane.rebuilding,
      });
    }
    return result;
  }

  /**
   * Resolves once every projector (or the named one) has applied the event at `position`
   * (its checkpoint reached it). Pass a position the store returned for an append.
   */
  waitFor(position: bigint, name?: string, signal?: AbortSignal): Promise<void> {
    const lanes = name === undefined ? [...this.lanes.values()] : [this.requireLane(name)];
    return Promise.all(
      lanes.map(
        (lane) =>
          new Promise<void>((resolve, reject) => {
            if (lane.checkpoint >= position) return resolve();
            const waiter = { position, resolve };
            lane.waiters.push(waiter);
            signal?.addEventListener(
              'abort',
              () => {
                lane.waiters = lane.waiters.filter((w) => w !== waiter);
                reject(new Error(`waiting for ${lane.projector.name} to reach ${position} aborted`));
              },
              { once: true },
            );
          }),
      ),
    ).then(() => undefined);
  }

  private requireLane(name: string): Lane {
    const lane = this.lanes.get(name);
    if (!lane) throw new Error(`no projector named ${name}`);
    return lane;
  }

  private advance(lane: Lane, checkpoint: bigint): void {
    lane.checkpoint = checkpoint;
    const ready = lane.waiters.filter((w) => w.position <= checkpoint);
    lane.waiters = lane.waiters.filter((w) => w.position > checkpoint);
    for (const waiter of ready) waiter.resolve();
    this.options.onCheckpoint?.(lane.projector.name, checkpoint);
  }

  private async runLane(lane: Lane, versionChanged: boolean): Promise<void> {
    const name = lane.projector.name;
    if (versionChanged) {
      lane.rebuilding = true;
      this.log('info', `version changed to ${lane.projector.version}: rebuilding`, { projector: name });
      await this.retrying(lane, () =>
        rebuildProjection(this.db, this.store, lane.projector, { signal: this.abort.signal }),
      );
      lane.rebuilding = false;
    }
    while (this.running) {
      const active = await this.retrying(lane, () => readActive(this.db.pool, name));
      if (!this.running || !active) return;
      lane.generation = active.generation;
      this.advance(lane, active.checkpoint);
      const subscription = this.store.subscribeToAllBatches(
        active.checkpoint,
        async (batch) => {
          const after = lane.checkpoint;
          const outcome = await this.retrying(lane, () =>
            applyBatch(this.db.pool, lane.projector, lane.generation, after, batch, true),
          );
          if (outcome === undefined) throw new Resync('stopping');
          if (outcome.kind !== 'applied') throw new Resync(outcome.kind);
          this.advance(lane, outcome.checkpoint);
        },
        { batchSize: this.options.batchSize ?? 500 },
      );
      lane.subscription = subscription;
      try {
        await subscription.done;
      } catch (error) {
        if (!(error instanceof Resync)) {
          this.log('error', 'subscription failed; resubscribing', { projector: name, error });
          await this.sleep(this.options.maxBackoffMs ?? 30_000);
        }
      }
      lane.subscription = undefined;
    }
  }

  /** Runs `attempt` until it succeeds, backing off exponentially; undefined once stopped. */
  private async retrying<T>(lane: Lane, attempt: () => Promise<T>): Promise<T | undefined> {
    const min = this.options.minBackoffMs ?? 100;
    const max = this.options.maxBackoffMs ?? 30_000;
    for (let tries = 1; this.running; tries++) {
      try {
        const value = await attempt();
        lane.failing = false;
        lane.lastError = undefined;
        return value;
      } catch (error) {
        if (!this.running) return undefined;
        const retryInMs = Math.min(max, min * 2 ** Math.min(tries - 1, 30));
        lane.failing = true;
        lane.lastError = error instanceof Error ? error.message : String(error);
        this.log('error', `failed (attempt ${tries}), retrying in ${retryInMs} ms`, {
          projector: lane.projector.name,
          error,
          attempt: tries,
          retryInMs,
        });
        await this.sleep(retryInMs);
      }
    }
    return undefined;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.abort.signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.abort.signal.addEventListener('abort', done, { once: true });
    });
  }
}
