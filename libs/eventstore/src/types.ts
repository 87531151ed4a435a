/** A JSON value as stored in an event's data or metadata. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** An event to append. `id` is unique across the store; re-appending it is a no-op. */
export interface NewEvent {
  id: string;
  type: string;
  data: JsonValue;
  metadata?: JsonValue;
}

/** An event as stored: its stream revision (0 for the first) and its global position. */
export interface RecordedEvent {
  id: string;
  stream: string;
  revision: bigint;
  position: bigint;
  type: string;
  data: JsonValue;
  metadata: JsonValue | null;
  recordedAt: Date;
}

/**
 * What the writer expects the stream to be: at exactly this revision (the revision of its
 * last event), empty (`no_stream`), holding at least one event (`stream_exists`) or `any`.
 */
export type ExpectedRevision = bigint | 'any' | 'no_stream' | 'stream_exists';

export interface AppendResult {
  /** Revision of the stream's last event after the append (the next expected revision). */
  nextExpectedRevision: bigint;
  /** Global position of the last appended event. */
  position: bigint;
  /** One entry per event, in order. */
  events: { id: string; revision: bigint; position: bigint }[];
  /** False when every event was already stored (an idempotent retry). */
  written: boolean;
}

export interface ReadStreamOptions {
  direction?: 'forwards' | 'backwards';
  /** First revision to return (inclusive); default the start (forwards) or end (backwards). */
  fromRevision?: bigint;
  limit?: number;
}

export interface ReadAllOptions {
  /** A checkpoint: returns events with a position strictly after it. `0n` reads from the start. */
  fromPosition?: bigint;
  limit?: number;
}

export type BatchHandler = (events: RecordedEvent[]) => void | Promise<void>;

export type SubscriptionHandler = (event: RecordedEvent) => void | Promise<void>;

/** A subscription to `$all`: catches up from its position, then follows new appends. */
export interface AllSubscription extends AsyncIterable<RecordedEvent> {
  /** Position of the last event delivered (the checkpoint). */
  readonly position: bigint;
  /** Resolves once the subscription ends; rejects if a handler threw. */
  readonly done: Promise<void>;
  close(): Promise<void>;
}

export interface SubscribeOptions {
  /** Events read per round trip while catching up (default 500). */
  batchSize?: number;
  /**
   * Shortest time between the starts of two reads while live, in milliseconds (default 0).
   * After a read that returned less than a full page, the next read waits until this long
   * after it, so what lands meanwhile is read (and handed over) in one page; catching up
   * (full pages) is not slowed, and a read more than the interval after the previous one does
   * not wait.
   */
  minReadIntervalMs?: number;
}

/**
 * The event store port: streams with revisions and one global order (`$all`) of positions.
 * Positions only grow, never change and may have gaps.
 */
export interface EventStore {
  append(stream: string, expectedRevision: ExpectedRevision, events: NewEvent[]): Promise<AppendResult>;
  readStream(stream: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  /** With a handler, delivers each event to it in order; without, iterate the subscription. */
  subscribeToAll(fromPosition: bigint, handler?: SubscriptionHandler, options?: SubscribeOptions): AllSubscription;
  /** Position of the last event a reader can see (0n when none). */
  headPosition(): Promise<bigint>;
  /** Number of events with a position in (after, upTo]. */
  countBetween(after: bigint, upTo: bigint): Promise<bigint>;
  /** Like subscribeToAll, but hands over whole batches (one read round trip each). */
  subscribeToAllBatches(
    fromPosition: bigint,
    handler: BatchHandler,
    options?: SubscribeOptions,
  ): AllSubscription;
  close(): Promise<void>;
}

export interface EventStoreOptions {
  /** Called after each append that wrote events (metrics). */
  onAppended?: (stream: string, count: number) => void;
  /**
   * PostgreSQL/PGlite: how many statements of appends with writes may be in flight at once;
   * appends made while that many are in flight wait and go together in the next one (group
   * commit). Default 2.
   */
  appendStatementsInFlight?: number;
}
