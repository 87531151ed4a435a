import { DuplicateEventIdError, WrongExpectedRevisionError } from './errors';
import { AppendNotifier } from './notifier';
import { startBatchSubscription, subscribeEventByEvent } from './subscription';
import type {
  AllSubscription,
  AppendResult,
  BatchHandler,
  EventStore,
  EventStoreOptions,
  ExpectedRevision,
  JsonValue,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions,
  SubscriptionHandler,
} from './types';
import { validateAppend, validateInterval, validateLimit } from './validation';

/** An in-memory event store for unit tests: the same contract, dense positions from 1. */
export class MemoryEventStore implements EventStore {
  private readonly all: RecordedEvent[] = [];
  private readonly streams = new Map<string, RecordedEvent[]>();
  private readonly byId = new Map<string, RecordedEvent>();
  readonly notifier = new AppendNotifier();
  private readonly subscriptions = new Set<AllSubscription>();

  constructor(private readonly options: EventStoreOptions = {}) {}

  async append(stream: string, expectedRevision: ExpectedRevision, events: NewEvent[]): Promise<AppendResult> {
    validateAppend(stream, expectedRevision, events);
    const existing = this.streams.get(stream) ?? [];
    const stored = events.map((event) => this.byId.get(event.id)).filter((e): e is RecordedEvent => e !== undefined);
    if (stored.length > 0) {
      if (stored.length === events.length && stored.every((e) => e.stream === stream)) {
        const sorted = [...stored].sort((a, b) => (a.revision < b.revision ? -1 : 1));
        const last = sorted[sorted.length - 1];
        return {
          nextExpectedRevision: BigInt(existing.length - 1),
          position: last.position,
          events: sorted.map((e) => ({ id: e.id, revision: e.revision, position: e.position })),
          written: false,
        };
      }
      throw new DuplicateEventIdError(stream, `${stored.length} of ${events.length} event ids are already stored`);
    }
    const current = BigInt(existing.length - 1);
    const conflict =
      (expectedRevision === 'no_stream' && existing.length > 0) ||
      (expectedRevision === 'stream_exists' && existing.length === 0) ||
      (typeof expectedRevision === 'bigint' && expectedRevision !== current);
    if (conflict) {
      throw new WrongExpectedRevisionError(stream, expectedRevision, existing.length === 0 ? 'no_stream' : current);
    }
    const recordedAt = new Date();
    const written = events.map((event, index): RecordedEvent => ({
      id: event.id,
      stream,
      revision: current + 1n + BigInt(index),
      position: BigInt(this.all.length + index + 1),
      type: event.type,
      data: clone(event.data),
      metadata: event.metadata === undefined ? null : clone(event.metadata),
      recordedAt,
    }));
    if (written.length > 0) {
      this.streams.set(stream, [...existing, ...written]);
      for (const event of written) {
        this.all.push(event);
        this.byId.set(event.id, event);
      }
      this.options.onAppended?.(stream, written.length);
      this.notifier.notify();
    }
    return {
      nextExpectedRevision: current + BigInt(written.length),
      position: written.length > 0 ? written[written.length - 1].position : BigInt(this.all.length),
      events: written.map((e) => ({ id: e.id, revision: e.revision, position: e.position })),
      written: written.length > 0,
    };
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const limit = validateLimit(options.limit, Number.MAX_SAFE_INTEGER);
    const events = this.streams.get(stream) ?? [];
    if (options.direction === 'backwards') {
      const from = options.fromRevision ?? BigInt(events.length - 1);
      return events
        .filter((e) => e.revision <= from)
        .reverse()
        .slice(0, limit);
    }
    const from = options.fromRevision ?? 0n;
    return events.filter((e) => e.revision >= from).slice(0, limit);
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const limit = validateLimit(options.limit, 1000);
    const from = options.fromPosition ?? 0n;
    const start = from < 0n ? 0 : Number(from > BigInt(this.all.length) ? BigInt(this.all.length) : from);
    return this.all.slice(start, start + limit);
  }

  subscribeToAll(fromPosition: bigint, handler?: SubscriptionHandler, options: SubscribeOptions = {}): AllSubscription {
    return subscribeEventByEvent((from, batch, opts) => this.subscribeToAllBatches(from, batch, opts), (subscription) => this.track(subscription), fromPosition, handler, options);
  }

  subscribeToAllBatches(fromPosition: bigint, handler: BatchHandler, options: SubscribeOptions = {}): AllSubscription {
    const source = {
      notifier: this.notifier,
      idleRecheckMs: Infinity,
      readBatch: async (after: bigint, limit: number) => ({
        events: await this.readAll({ fromPosition: after, limit }),
        pending: false,
      }),
    };
    return this.track(
      startBatchSubscription(source, fromPosition, handler, validateLimit(options.batchSize, 500), validateInterval(options.minReadIntervalMs)),
    );
  }

  async headPosition(): Promise<bigint> {
    return BigInt(this.all.length);
  }

  /** Every append commits when it returns: the head is what was acknowledged. */
  acknowledgedPosition(): bigint {
    return BigInt(this.all.length);
  }

  async committedHead(): Promise<bigint> {
    return BigInt(this.all.length);
  }

  async countBetween(after: bigint, upTo: bigint): Promise<bigint> {
    return BigInt(this.all.filter((e) => e.position > after && e.position <= upTo).length);
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.close()));
  }

  private track(subscription: AllSubscription): AllSubscription {
    this.subscriptions.add(subscription);
    const forget = () => this.subscriptions.delete(subscription);
    subscription.done.then(forget, forget);
    return subscription;
  }
}

function clone(value: JsonValue): JsonValue {
  return JSON.parse(JSON.stringify(value)) as JsonValue;
}
