import type { Database } from '@hs/persistence';
import { AppendNotifier } from '../notifier';
import { sleep } from '../sleep';
import type { AllSubscription, EventStore, RecordedEvent } from '../types';
import { applyBatch, ensureProjection, persistCheckpoint, readActive } from './generations';
import { rebuildProjection } from './rebuild';
import { selectEvents, validateProjector, type CheckpointListener, type ProjectionStatus, type Projector, type WrittenBatch } from './projector';

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
  /**
   * Called each time a projector's checkpoint advances (its rows up to `position` are
   * committed). `wrote` is false when the checkpoint only moved over events the projector
   * does not handle since the previous call: its rows did not change in that range.
   * `written` describes a batch its projector's statement applied (`BatchStatement.written`).
   */
  onCheckpoint?: CheckpointListener;
  /**
   * Longest time a checkpoint that advanced only over events the projector does not handle
   * stays unstored (default 1000 ms). It is stored sooner with the projector's next applied
   * batch, and at stop; after a crash the projector re-reads those events, which change nothing.
   */
  checkpointDelayMs?: number;
  /** Batches of `$all` the shared reader keeps for projectors a little behind it (default 4, at least 2). */
  sharedBatches?: number;
  /**
   * Shortest time between two reads of `$all` by the shared reader while live (default
   * 15 ms; `SubscribeOptions.minReadIntervalMs`): under a steady stream of appends what
   * lands meanwhile is read and applied in one batch instead of one round trip per commit.
   * Catching up is not slowed, and a read more than the interval after the previous one
   * (the first event after a quiet moment) starts at once.
   */
  readIntervalMs?: number;
}

const DEFAULT_READ_INTERVAL_MS = 15;

interface Lane {
  projector: Projector;
  generation: number;
  /** Position up to which the projector's rows are committed (applied or passed over). */
  checkpoint: bigint;
  /** The checkpoint stored for the generation; at most `checkpoint`. */
  persisted: bigint;
  persistTimer?: NodeJS.Timeout;
  /** Serialises the lane's database work: batches, checkpoint stores and re-reading its generation. */
  lock: Promise<void>;
  /** Set when the stored generation or checkpoint is not what the lane believed. */
  resync: boolean;
  failing: boolean;
  lastError?: string;
  rebuilding: boolean;
  waiters: { position: bigint; resolve: () => void }[];
}

/** One read of `$all` by the shared reader: the events after `after`, up to `end`. */
interface SharedBatch {
  after: bigint;
  end: bigint;
  events: RecordedEvent[];
}

const defaultLog: ProjectionLog = (level, message, fields) => {
  if (level !== 'info') console.warn(`[projection ${fields.projector}] ${message}`, fields.error ?? '');
};

/**
 * Feeds each projector (a lane) from `$all`. One subscription reads the store and hands each
 * batch to every lane at that position; a lane that is behind the batches the reader still
 * holds (after a failure, a restart or a slow batch) reads alone until it catches up, so it
 * holds the others back by at most one read-ahead batch. Each batch with events for the
 * projector is committed with its checkpoint; a batch with none costs no round trip (the
 * checkpoint advances in memory and is stored later). A failing projector stays at its
 * checkpoint and retries with exponential backoff while the others go on. A projector whose
 * version differs from the stored one is rebuilt into a new generation while the old one
 * keeps serving.
 */
export class ProjectionRunner {
  private readonly lanes = new Map<string, Lane>();
  private running = false;
  private readonly abort = new AbortController();
  private readonly loops: Promise<void>[] = [];
  private readonly log: ProjectionLog;
  private readonly batchSize: number;
  private readonly keptBatches: number;
  /** The shared reader's recent batches, oldest first, contiguous. */
  private batches: SharedBatch[] = [];
  /** Position the shared reader has read up to. */
  private readerPosition = 0n;
  private reader?: AllSubscription;
  /** Wakes lanes waiting for the shared reader. */
  private readonly published = new AppendNotifier();
  /** Wakes the shared reader waiting for a lane to move. */
  private readonly progressed = new AppendNotifier();

  constructor(
    private readonly db: Database,
    private readonly store: EventStore,
    projectors: readonly Projector[],
    private readonly options: ProjectionRunnerOptions = {},
  ) {
    this.log = options.log ?? defaultLog;
    this.batchSize = options.batchSize ?? 500;
    this.keptBatches = Math.max(2, options.sharedBatches ?? 4);
    for (const projector of projectors) {
      validateProjector(projector);
      if (this.lanes.has(projector.name)) throw new Error(`two projectors named ${projector.name}`);
      this.lanes.set(projector.name, {
        projector,
        generation: 0,
        checkpoint: 0n,
        persisted: 0n,
        lock: Promise.resolve(),
        resync: true,
        failing: false,
        rebuilding: false,
        waiters: [],
      });
    }
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const rebuild = new Set<Lane>();
    for (const lane of this.lanes.values()) {
      const active = await ensureProjection(this.db.pool, lane.projector);
      lane.generation = active.generation;
      // While a new version is being rebuilt, the projector has applied nothing yet.
      if (active.version !== lane.projector.version) rebuild.add(lane);
      lane.checkpoint = rebuild.has(lane) ? 0n : active.checkpoint;
      lane.persisted = lane.checkpoint;
    }
    if (this.lanes.size === 0) return;
    const live = [...this.lanes.values()].filter((lane) => !rebuild.has(lane));
    // The reader starts with the most advanced projector; the others catch up to it alone.
    const from = live.length > 0 ? live.reduce((max, lane) => (lane.checkpoint > max ? lane.checkpoint : max), 0n) : await this.store.headPosition();
    this.loops.push(this.runReader(from));
    for (const lane of this.lanes.values()) this.loops.push(this.runLane(lane, rebuild.has(lane)));
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort.abort();
    await this.reader?.close();
    await Promise.all(this.loops);
    // Store the checkpoints that moved over events no projector handled.
    await Promise.all(
      [...this.lanes.values()].map((lane) => {
        this.cancelPersist(lane);
        return this.withLock(lane, () => this.persist(lane));
      }),
    );
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

  private advance(lane: Lane, checkpoint: bigint, wrote = true, written?: WrittenBatch): void {
    lane.checkpoint = checkpoint;
    const ready = lane.waiters.filter((w) => w.position <= checkpoint);
    lane.waiters = lane.waiters.filter((w) => w.position > checkpoint);
    for (const waiter of ready) waiter.resolve();
    this.progressed.notify();
    this.options.onCheckpoint?.(lane.projector.name, checkpoint, wrote, written);
  }

  /** Runs `work` after the lane's earlier database work has finished. */
  private withLock<T>(lane: Lane, work: () => Promise<T>): Promise<T> {
    const run = lane.lock.then(work);
    lane.lock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Drops a pending store of a passed-over checkpoint (a later write or re-read supersedes it). */
  private cancelPersist(lane: Lane): void {
    if (lane.persistTimer) clearTimeout(lane.persistTimer);
    lane.persistTimer = undefined;
  }

  /** The shared reader: one subscription to `$all`, its batches kept for the lanes. */
  private async runReader(from: bigint): Promise<void> {
    this.readerPosition = from;
    const min = this.options.minBackoffMs ?? 100;
    const max = this.options.maxBackoffMs ?? 30_000;
    for (let failures = 0; this.running; ) {
      const start = this.readerPosition;
      const subscription = this.store.subscribeToAllBatches(start, (events) => this.publish(events), {
        batchSize: this.batchSize,
        minReadIntervalMs: this.options.readIntervalMs ?? DEFAULT_READ_INTERVAL_MS,
      });
      this.reader = subscription;
      try {
        await subscription.done;
      } catch (error) {
        if (this.running) this.log('error', 'reading $all failed; reading again', { projector: '*', error });
      }
      this.reader = undefined;
      // Back off only while reads keep failing without progress.
      failures = this.readerPosition > start ? 0 : failures + 1;
      if (this.running) await this.sleep(Math.min(max, min * 2 ** Math.min(failures, 30)));
    }
  }

  private async publish(events: RecordedEvent[]): Promise<void> {
    const batch: SharedBatch = { after: this.readerPosition, end: events[events.length - 1].position, events };
    this.batches.push(batch);
    if (this.batches.length > this.keptBatches) this.batches.shift();
    this.readerPosition = batch.end;
    this.published.notify();
    // Read ahead at most one batch beyond the most advanced lane.
    while (this.running) {
      const seen = this.progressed.version;
      if (this.leadingPosition() >= batch.after) return;
      await this.progressed.wait(seen, Infinity, this.abort.signal);
    }
  }

  private leadingPosition(): bigint {
    let max = 0n;
    for (const lane of this.lanes.values()) if (lane.checkpoint > max) max = lane.checkpoint;
    return max;
  }

  /**
   * The next events after the lane's checkpoint: from the shared reader's batches when it
   * holds them, read alone when the lane is behind them; waits while the lane is caught up.
   * Undefined when the runner stops or the lane must re-read its generation.
   */
  private async nextEvents(lane: Lane): Promise<RecordedEvent[] | undefined> {
    while (this.running && !lane.resync) {
      const seen = this.published.version;
      const position = lane.checkpoint;
      const shared = this.batches.find((b) => b.after <= position && position < b.end);
      if (shared) {
        const first = shared.events.findIndex((e) => e.position > position);
        return first <= 0 ? shared.events : shared.events.slice(first);
      }
      const oldest = this.batches.length > 0 ? this.batches[0].after : this.readerPosition;
      if (position < oldest) {
        const events = await this.retrying(lane, () => this.store.readAll({ fromPosition: position, limit: this.batchSize }));
        if (events === undefined) return undefined;
        if (events.length > 0) return events;
      }
      await this.published.wait(seen, Infinity, this.abort.signal);
    }
    return undefined;
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
      try {
        if (lane.resync) {
          const found = await this.withLock(lane, async () => {
            const active = await this.retrying(lane, () => readActive(this.db.pool, name));
            if (!this.running || !active) return false;
            this.cancelPersist(lane);
            lane.resync = false;
            lane.generation = active.generation;
            lane.persisted = active.checkpoint;
            this.advance(lane, active.checkpoint);
            return true;
          });
          if (!found) return;
        }
        const events = await this.nextEvents(lane);
        if (!events) continue;
        const applied = await this.withLock(lane, () => this.process(lane, events));
        // A projector that may lag lets what lands meanwhile gather into its next batch
        // (unless it is catching up: a full batch is followed at once by the next).
        const interval = lane.projector.applyIntervalMs ?? 0;
        if (applied && interval > 0 && events.length < this.batchSize) await this.sleep(interval);
      } catch (error) {
        // E.g. a throwing onCheckpoint or `wants`: start again from the stored checkpoint.
        this.log('error', 'projection lane failed; resuming from its stored checkpoint', { projector: name, error });
        lane.resync = true;
        await this.sleep(this.options.maxBackoffMs ?? 30_000);
      }
    }
  }

  /** Applies (or passes over) the events; true when a batch was written. */
  private async process(lane: Lane, events: RecordedEvent[]): Promise<boolean> {
    if (lane.resync || events[events.length - 1].position <= lane.checkpoint) return false;
    if (selectEvents(lane.projector, events).length === 0) {
      // Nothing to write: the checkpoint moves in memory and is stored later.
      this.advance(lane, events[events.length - 1].position, false);
      this.schedulePersist(lane);
      return false;
    }
    const outcome = await this.retrying(lane, () =>
      applyBatch(this.db.pool, lane.projector, lane.generation, lane.persisted, events, true),
    );
    if (outcome === undefined) return false;
    if (outcome.kind !== 'applied') {
      lane.resync = true;
      return false;
    }
    this.cancelPersist(lane);
    lane.persisted = outcome.checkpoint;
    const after = lane.checkpoint;
    this.advance(lane, outcome.checkpoint, true, outcome.written === undefined ? undefined : { after, value: outcome.written });
    return true;
  }

  private schedulePersist(lane: Lane): void {
    if (lane.persistTimer || !this.running) return;
    lane.persistTimer = setTimeout(() => {
      lane.persistTimer = undefined;
      void this.withLock(lane, () => this.persist(lane));
    }, this.options.checkpointDelayMs ?? 1000);
    lane.persistTimer.unref();
  }

  /** Stores a checkpoint that moved over events the projector does not handle. */
  private async persist(lane: Lane): Promise<void> {
    if (lane.resync || lane.rebuilding || lane.checkpoint <= lane.persisted) return;
    const checkpoint = lane.checkpoint;
    try {
      const outcome = await persistCheckpoint(this.db.pool, lane.projector, lane.generation, lane.persisted, checkpoint, true);
      if (outcome.kind === 'applied') {
        lane.persisted = checkpoint;
        return;
      }
      lane.resync = true;
      this.published.notify();
    } catch (error) {
      this.log('warn', 'storing the checkpoint failed; it is stored with the next batch', { projector: lane.projector.name, error });
      this.schedulePersist(lane);
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

  /** Waits `ms`, or until the runner stops. */
  private sleep(ms: number): Promise<void> {
    return sleep(ms, this.abort.signal);
  }
}
