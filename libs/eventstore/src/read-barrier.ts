/**
 * Read-your-writes across the CQRS split. Projections apply the store's events a little after
 * they are committed; a read served from a projection first waits, bounded, until every read
 * model it uses has applied the position of every write acknowledged before the read (the
 * horizon). Each read model has an in-memory watermark, moved by whoever applies its events
 * (the projection runner's checkpoints, the /sync notifier's examined ranges), so a read of a
 * caught-up read model costs a comparison and no round trip.
 */

/** The position every read must reflect. */
export interface ReadHorizon {
  /** Position of the latest write acknowledged so far (0n when none). */
  target(): bigint | Promise<bigint>;
  /** Which horizon this is, for logs: `process` or `store`. */
  readonly kind: string;
}

/** What a store offers for the horizons below (PostgresEventStore, MemoryEventStore). */
export interface AcknowledgingStore {
  /** Position of the latest append this process saw committed (appends at start-up included). */
  acknowledgedPosition(): bigint;
  /** Position of the latest committed event of any process, read from the database. */
  committedHead(): Promise<bigint>;
}

/**
 * Every write goes through this process's store: its own record of the latest acknowledged
 * append (which starts at the store's head when it opens) is exact and costs nothing.
 */
export function processHorizon(store: AcknowledgingStore): ReadHorizon {
  return { kind: 'process', target: () => store.acknowledgedPosition() };
}

/**
 * Several processes write to one store: the store's committed head, read when the read
 * starts, is the truth (one indexed query per read). Appends of this process that are known
 * to be committed are taken into account too.
 */
export function storeHorizon(store: AcknowledgingStore): ReadHorizon {
  return {
    kind: 'store',
    async target() {
      const head = await store.committedHead();
      const own = store.acknowledgedPosition();
      return head > own ? head : own;
    },
  };
}

export interface ReadBarrierOptions {
  /** False turns waiting off (reads answer at once from what the read models hold). Default true. */
  enabled?: boolean;
  /** Longest wait of one read for one read model, in milliseconds (default 2000). */
  maxWaitMs?: number;
  /** Called once per read model a read checked: seconds waited (0 when caught up), and whether it gave up. */
  observe?: (readModel: string, seconds: number, timedOut: boolean) => void;
  /** Called when a read stopped waiting for a read model and answered from what it holds. */
  onLagging?: (lag: ReadModelLag) => void;
  /** Milliseconds, monotonic enough for durations (default performance.now). */
  now?: () => number;
}

/** A read model that did not reach the horizon within the bounded wait. */
export interface ReadModelLag {
  readModel: string;
  /** Position the read model has applied. */
  position: bigint;
  /** Position the read waited for. */
  target: bigint;
  /** When (options.now) it was first found lagging. */
  since: number;
}

interface Waiter {
  target: bigint;
  resolve: () => void;
}

interface Watermark {
  position: bigint;
  waiters: Waiter[];
  /** Set when a read gave up waiting for this read model; cleared once it reaches that read's target. */
  lagging?: ReadModelLag;
}

export const DEFAULT_MAX_READ_WAIT_MS = 2000;

export class ReadBarrier {
  private readonly marks = new Map<string, Watermark>();
  /** Whether reads wait at all (`read_consistency.enabled`). */
  readonly enabled: boolean;
  private readonly maxWaitMs: number;
  private readonly now: () => number;

  constructor(
    private readonly horizon: ReadHorizon,
    private readonly options: ReadBarrierOptions = {},
  ) {
    this.enabled = options.enabled ?? true;
    this.maxWaitMs = Math.max(0, options.maxWaitMs ?? DEFAULT_MAX_READ_WAIT_MS);
    this.now = options.now ?? (() => performance.now());
  }

  get horizonKind(): string {
    return this.horizon.kind;
  }

  /**
   * Declares a read model (its watermark starts at `position`, 0n by default). A read naming
   * a read model that was never declared is a wiring error.
   */
  declare(readModel: string, position = 0n): void {
    if (!this.marks.has(readModel)) this.marks.set(readModel, { position, waiters: [] });
    else this.advance(readModel, position);
  }

  /** Whether the read model was declared. */
  has(readModel: string): boolean {
    return this.marks.has(readModel);
  }

  /** The read model has applied everything up to `position`. Lower positions are ignored. */
  advance(readModel: string, position: bigint): void {
    const mark = this.marks.get(readModel);
    if (!mark || position <= mark.position) return;
    mark.position = position;
    if (mark.lagging && position >= mark.lagging.target) mark.lagging = undefined;
    if (mark.waiters.length === 0) return;
    const ready: Waiter[] = [];
    mark.waiters = mark.waiters.filter((waiter) => {
      if (waiter.target > position) return true;
      ready.push(waiter);
      return false;
    });
    for (const waiter of ready) waiter.resolve();
  }

  /** Position the read model has applied (undefined when it was never declared). */
  position(readModel: string): bigint | undefined {
    return this.marks.get(readModel)?.position;
  }

  /**
   * Resolves once each named read model has applied every write acknowledged before this
   * call, or once the bounded wait for it is over (it is then reported as lagging, and later
   * reads do not wait for it again until it has caught up with the position this read waited
   * for). Never rejects for a lagging read model: the read then answers from what it holds.
   */
  async ready(readModels: readonly string[]): Promise<void> {
    if (!this.enabled || readModels.length === 0) return;
    const horizon = this.horizon.target();
    const target = typeof horizon === 'bigint' ? horizon : await horizon;
    let pending: Promise<void>[] | undefined;
    for (const readModel of readModels) {
      const mark = this.marks.get(readModel);
      if (!mark) throw new Error(`read model ${readModel} was not declared to the read barrier`);
      if (mark.position >= target || mark.lagging) {
        this.options.observe?.(readModel, 0, false);
        continue;
      }
      (pending ??= []).push(this.waitFor(readModel, mark, target));
    }
    if (pending) await Promise.all(pending);
  }

  /** The read models found lagging and not caught up since. */
  lagging(): ReadModelLag[] {
    const result: ReadModelLag[] = [];
    for (const mark of this.marks.values()) if (mark.lagging) result.push({ ...mark.lagging, position: mark.position });
    return result;
  }

  private waitFor(readModel: string, mark: Watermark, target: bigint): Promise<void> {
    const started = this.now();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        mark.waiters = mark.waiters.filter((w) => w !== waiter);
        this.options.observe?.(readModel, (this.now() - started) / 1000, true);
        if (!mark.lagging) {
          mark.lagging = { readModel, position: mark.position, target, since: this.now() };
          this.options.onLagging?.({ ...mark.lagging });
        }
        resolve();
      }, this.maxWaitMs);
      const waiter: Waiter = {
        target,
        resolve: () => {
          clearTimeout(timer);
          this.options.observe?.(readModel, (this.now() - started) / 1000, false);
          resolve();
        },
      };
      mark.waiters.push(waiter);
    });
  }
}
