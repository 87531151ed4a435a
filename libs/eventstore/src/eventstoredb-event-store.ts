/**
 * The event store port on EventStoreDB (`@eventstore/db-client`, gRPC). An optional adapter:
 * the homeserver keeps its own events in PostgreSQL/PGlite (docs/eventstoredb.md says why);
 * this one serves tools reading and writing streams through the port, and the contract suite.
 * The client library is loaded by `connect` (a lazy import), so a process that never connects
 * never loads gRPC.
 *
 * Mapping:
 * - Event ids. EventStoreDB wants a UUID per event; ours are arbitrary strings (`$abc...`).
 *   Each event is stored under a name-based UUID (version 5: SHA-1 of a fixed namespace and
 *   the id, {@link eventUuid}), and its metadata is the envelope `{"id": <our id>, "meta":
 *   <our metadata or null>}` ({@link wrapMetadata}). Reading unwraps it only when the stored
 *   UUID is the one derived from the envelope's id, so the id and metadata come back unchanged.
 *   Events written by other clients read with their UUID as id and their metadata as is.
 *   Data is stored as JSON (content type application/json) and parsed back.
 * - Positions. Every event appended through gRPC commits itself: EventStoreDB reports its
 *   commit position equal to its prepare position, the log position of its own record, in
 *   `$all` and in stream reads (22.6 or later report positions on stream reads). Events of one
 *   append therefore do not share a commit position; that one bigint grows along `$all` and
 *   is our position ({@link positionOf}). Only events of the legacy TCP API's explicit
 *   transactions share a commit position; reading one fails rather than hand out equal
 *   positions. `readAll({ fromPosition })` reads from `{commit, prepare}` = the checkpoint,
 *   which EventStoreDB treats as inclusive, and skips every event at or before it
 *   ({@link toReadPosition}). A checkpoint must be 0n or a position this adapter returned.
 * - System events (a type or a stream starting with `$`) are never returned, and appending
 *   to such a stream or with such a type is refused (InvalidAppendError): EventStoreDB would
 *   take them as its own.
 * - Expected revisions map one to one ({@link toEsdbExpectedRevision}); WrongExpectedVersion
 *   becomes WrongExpectedRevisionError with the server's actual revision. A missing stream
 *   reads as empty.
 * - Idempotence. Before writing, the revisions the batch would hold are read: for an exact
 *   revision or `no_stream`, the `events.length` revisions after the expected one; for `any` and
 *   `stream_exists`, the stream's last {@link RETRY_WINDOW} events. All ids found: the append is
 *   a retry, answered with the stored revisions and positions and `written: false`; some found:
 *   DuplicateEventIdError. The same check runs again after a WrongExpectedVersion (a concurrent
 *   append may have stored this very batch), and EventStoreDB's own idempotence (same UUIDs
 *   at the same revisions) covers the rest. Not guaranteed, as no index of ids exists: an id
 *   already stored in another stream is stored again; with an exact revision, an id stored
 *   elsewhere in the stream than at those revisions is stored again; with `any`/`stream_exists`,
 *   a retry whose events are older than the window is written again unless EventStoreDB's
 *   own (best-effort) idempotence catches it; and two identical retries racing each other may
 *   both report `written: true` (one of them is a no-op on the server).
 * - Append results: a written batch is read back from its revisions for its positions.
 * - headPosition reads `$all` backwards from the end past system events (0n when none);
 *   countBetween reads `$all` between the two positions: O(n).
 * - Subscriptions reuse `startBatchSubscription`, reading pages with `readAll`. While idle they
 *   wait for a wake-up: this store's own appends, and one live `subscribeToAll` of the client
 *   per store (from the end, system events filtered out) whose events only wake readers, so
 *   appends made by other processes wake them too. It is opened (and confirmed by the server)
 *   before a subscription's first read, reopened after it drops, and an idle subscription
 *   re-reads every {@link IDLE_RECHECK_MS} anyway in case a wake-up was lost meanwhile.
 *   EventStoreDB shows `$all` in commit order with no transaction in flight, so nothing is ever
 *   held back (`pending` is always false).
 * - close() ends the subscriptions and the wake-up subscription, then disposes the client.
 * With access control on, the connection string's user must be allowed to read `$all`.
 */
import { createHash } from 'node:crypto';
import type {
  AllStreamRecordedEvent,
  AllStreamSubscription,
  AppendExpectedRevision,
  Direction,
  EventStoreDBClient,
  JSONType,
  Position,
  ReadPosition,
  ReadRevision,
  RecordedEvent as EsdbRecordedEvent,
} from '@eventstore/db-client';
import { DuplicateEventIdError, InvalidAppendError, WrongExpectedRevisionError } from './errors';
import { AppendNotifier } from './notifier';
import { startBatchSubscription, subscribeEventByEvent, type BatchSource } from './subscription';
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

type EsdbModule = typeof import('@eventstore/db-client');

/** Namespace of the name-based UUIDs our event ids are stored under. */
export const EVENT_ID_NAMESPACE = 'f8fa7aba-8b3a-4d15-8847-a17c11ab7e0d';
/** How many of a stream's last events an `any`/`stream_exists` append checks for its ids. */
export const RETRY_WINDOW = 100;
/** Safety-net re-read interval of an idle subscription (a wake-up lost while reconnecting). */
const IDLE_RECHECK_MS = 30_000;
const WAKE_RECONNECT_MS = 1_000;
/** Most events read from `$all` per round trip. */
const MAX_PAGE = 1000;

/** A name-based (version 5, SHA-1) UUID of `name` in `namespace`, lowercase as EventStoreDB returns it. */
export function nameBasedUuid(namespace: string, name: string): string {
  const namespaceBytes = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  if (namespaceBytes.length !== 16) throw new RangeError(`not a UUID: ${namespace}`);
  const hash = createHash('sha1').update(namespaceBytes).update(name, 'utf8').digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The UUID an event with this id is stored under. */
export function eventUuid(id: string): string {
  return nameBasedUuid(EVENT_ID_NAMESPACE, id);
}

/** The stored metadata: our id and our metadata. */
export interface MetadataEnvelope {
  id: string;
  meta: JsonValue;
}

export function wrapMetadata(id: string, metadata: JsonValue | undefined): MetadataEnvelope {
  return { id, meta: metadata === undefined ? null : metadata };
}

/**
 * Our id and metadata from a stored event's UUID and metadata, or undefined when the
 * metadata is not an envelope written for that UUID (an event another client wrote).
 */
export function unwrapMetadata(uuid: string, stored: unknown): { id: string; metadata: JsonValue | null } | undefined {
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored) || stored instanceof Uint8Array) return undefined;
  const record = stored as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length !== 2 || typeof record.id !== 'string' || !('meta' in record)) return undefined;
  if (eventUuid(record.id) !== uuid.toLowerCase()) return undefined;
  return { id: record.id, metadata: (record.meta ?? null) as JsonValue | null };
}

/** Where EventStoreDB starts reading `$all` forwards for "strictly after `after`" (then skip `<= after`). */
export function toReadPosition(after: bigint): ReadPosition {
  return after > 0n ? { commit: after, prepare: after } : 'start';
}

/** Our position of an event EventStoreDB reports at `position` (see the header comment). */
export function positionOf(position: Position | undefined): bigint {
  if (!position) throw new Error('EventStoreDB reported no position for an event (stream reads report positions from version 22.6 on)');
  if (position.commit !== position.prepare) {
    throw new Error(
      `event at commit ${position.commit} / prepare ${position.prepare} belongs to an explicit transaction, whose events share a commit position; this adapter cannot order them`,
    );
  }
  return position.commit;
}

/** Orders two EventStoreDB positions as `$all` does (commit, then prepare). */
export function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

export function toEsdbExpectedRevision(expected: ExpectedRevision): AppendExpectedRevision {
  switch (expected) {
    case 'any':
      return 'any';
    case 'no_stream':
      return 'no_stream';
    case 'stream_exists':
      return 'stream_exists';
    default:
      return expected;
  }
}

/** EventStoreDB's own events: a type or a stream starting with `$`. */
export function isSystemEvent(stream: string, type: string): boolean {
  return stream.startsWith('$') || type.startsWith('$');
}

export class EventStoreDbEventStore implements EventStore {
  readonly notifier = new AppendNotifier();
  private readonly subscriptions = new Set<AllSubscription>();
  private wake: { subscription: AllStreamSubscription; ready: Promise<void> } | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly esdb: EsdbModule,
    private readonly client: EventStoreDBClient,
    private readonly options: EventStoreOptions,
  ) {}

  /** Connects with an EventStoreDB connection string (e.g. `esdb://localhost:2113?tls=false`) and checks that `$all` can be read. */
  static async connect(connectionString: string, options: EventStoreOptions = {}): Promise<EventStoreDbEventStore> {
    const esdb = await import('@eventstore/db-client');
    const client = esdb.EventStoreDBClient.connectionString(connectionString);
    const store = new EventStoreDbEventStore(esdb, client, options);
    try {
      await store.readAllPage('end', 'backwards', 1);
    } catch (error) {
      await client.dispose().catch(() => undefined);
      throw error;
    }
    return store;
  }

  async append(stream: string, expectedRevision: ExpectedRevision, events: NewEvent[]): Promise<AppendResult> {
    validateAppend(stream, expectedRevision, events);
    if (stream.startsWith('$')) throw new InvalidAppendError(`stream ${stream}: names starting with $ are EventStoreDB system streams`);
    for (const event of events) {
      if (event.type.startsWith('$')) throw new InvalidAppendError(`event ${event.id}: types starting with $ are EventStoreDB system events`);
    }
    if (events.length === 0) return this.appendNothing(stream, expectedRevision);

    const retry = await this.storedBatch(stream, expectedRevision, events);
    if (retry) return retry;
    const uuids = events.map((event) => eventUuid(event.id));
    let nextExpectedRevision: bigint;
    try {
      const result = await this.client.appendToStream(
        stream,
        events.map((event, i) =>
          this.esdb.jsonEvent({
            id: uuids[i],
            type: event.type,
            data: event.data as JSONType,
            metadata: wrapMetadata(event.id, event.metadata),
          }),
        ),
        { expectedRevision: toEsdbExpectedRevision(expectedRevision) },
      );
      nextExpectedRevision = result.nextExpectedRevision;
    } catch (error) {
      if (!(error instanceof this.esdb.WrongExpectedVersionError)) throw error;
      // A concurrent append may have stored this very batch meanwhile.
      const raced = await this.storedBatch(stream, expectedRevision, events);
      if (raced) return raced;
      // With any (or stream_exists on an existing stream) the server only refuses a batch
      // whose first events it recognises as stored and the rest not.
      if (expectedRevision === 'any' || (expectedRevision === 'stream_exists' && error.actualVersion !== 'no_stream')) {
        throw new DuplicateEventIdError(stream, 'EventStoreDB found part of the batch already stored');
      }
      throw new WrongExpectedRevisionError(stream, expectedRevision, error.actualVersion);
    }

    const first = nextExpectedRevision - BigInt(events.length) + 1n;
    const stored = await this.readStreamRecords(stream, 'forwards', first, events.length);
    if (stored.length !== events.length || stored.some((record, i) => record.id !== events[i].id)) {
      throw new Error(`EventStoreDB acknowledged the append to ${stream}, but revisions ${first}.. do not hold its events`);
    }
    this.options.onAppended?.(stream, events.length);
    this.notifier.notify();
    return {
      nextExpectedRevision,
      position: stored[stored.length - 1].position,
      events: stored.map((e) => ({ id: e.id, revision: e.revision, position: e.position })),
      written: true,
    };
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const limit = validateLimit(options.limit, Number.MAX_SAFE_INTEGER);
    const backwards = options.direction === 'backwards';
    let from: ReadRevision = backwards ? 'end' : 'start';
    if (options.fromRevision !== undefined) {
      if (options.fromRevision >= 0n) from = options.fromRevision;
      else if (backwards) return [];
    }
    return this.readStreamRecords(stream, backwards ? 'backwards' : 'forwards', from, limit);
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const limit = validateLimit(options.limit, 1000);
    const out: RecordedEvent[] = [];
    for await (const event of this.scanForward(options.fromPosition ?? 0n, Math.min(limit + 1, MAX_PAGE))) {
      out.push(event);
      if (out.length === limit) break;
    }
    return out;
  }

  subscribeToAll(fromPosition: bigint, handler?: SubscriptionHandler, options: SubscribeOptions = {}): AllSubscription {
    return subscribeEventByEvent((from, batch, opts) => this.subscribeToAllBatches(from, batch, opts), (subscription) => this.track(subscription), fromPosition, handler, options);
  }

  subscribeToAllBatches(fromPosition: bigint, handler: BatchHandler, options: SubscribeOptions = {}): AllSubscription {
    const batchSize = validateLimit(options.batchSize, 500);
    const source: BatchSource = {
      notifier: this.notifier,
      idleRecheckMs: IDLE_RECHECK_MS,
      readBatch: async (after, limit) => ({ events: await this.readAll({ fromPosition: after, limit }), pending: false }),
      ensureListening: () => this.ensureListening(),
    };
    return this.track(startBatchSubscription(source, fromPosition, handler, batchSize, validateInterval(options.minReadIntervalMs)));
  }

  async headPosition(): Promise<bigint> {
    let from: ReadPosition = 'end';
    while (true) {
      const { events, raw } = await this.readAllPage(from, 'backwards', 64);
      const last = events.find((e) => !isSystemEvent(e.streamId, e.type));
      if (last) return positionOf(last.position);
      if (raw < 64 || events.length === 0) return 0n;
      from = events[events.length - 1].position;
    }
  }

  async countBetween(after: bigint, upTo: bigint): Promise<bigint> {
    let count = 0n;
    if (upTo <= after) return count;
    for await (const event of this.scanForward(after, MAX_PAGE)) {
      if (event.position > upTo) break;
      count++;
    }
    return count;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    // First the wake-up subscription: a subscription still waiting for its confirmation ends with it.
    const wake = this.wake;
    this.wake = undefined;
    if (wake) {
      await wake.subscription.unsubscribe().catch(() => undefined);
      wake.subscription.destroy();
    }
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    await this.client.dispose();
  }

  /** An empty append: checks the expectation against the stream as it is and writes nothing. */
  private async appendNothing(stream: string, expectedRevision: ExpectedRevision): Promise<AppendResult> {
    const [last] = await this.readStreamRecords(stream, 'backwards', 'end', 1);
    const current = last ? last.revision : -1n;
    const conflict =
      (expectedRevision === 'no_stream' && last !== undefined) ||
      (expectedRevision === 'stream_exists' && last === undefined) ||
      (typeof expectedRevision === 'bigint' && expectedRevision !== current);
    if (conflict) throw new WrongExpectedRevisionError(stream, expectedRevision, last ? current : 'no_stream');
    return { nextExpectedRevision: current, position: await this.headPosition(), events: [], written: false };
  }

  /**
   * The batch as already stored where a retry of it would find it (see the header comment):
   * undefined when none of its ids is there, DuplicateEventIdError when only some are.
   */
  private async storedBatch(stream: string, expected: ExpectedRevision, events: NewEvent[]): Promise<AppendResult | undefined> {
    const candidates =
      typeof expected === 'bigint' || expected === 'no_stream'
        ? await this.readStreamRecords(stream, 'forwards', (expected === 'no_stream' ? -1n : expected) + 1n, events.length)
        : await this.readStreamRecords(stream, 'backwards', 'end', Math.max(RETRY_WINDOW, events.length));
    const ids = new Set(events.map((e) => e.id));
    const found = candidates.filter((e) => ids.has(e.id)).sort((a, b) => (a.revision < b.revision ? -1 : 1));
    if (found.length === 0) return undefined;
    if (found.length < events.length) {
      throw new DuplicateEventIdError(stream, `${found.length} of ${events.length} event ids are already stored`);
    }
    const last = found[found.length - 1];
    return {
      nextExpectedRevision: last.revision,
      position: last.position,
      events: found.map((e) => ({ id: e.id, revision: e.revision, position: e.position })),
      written: false,
    };
  }

  private async readStreamRecords(stream: string, direction: Direction, from: ReadRevision, maxCount: number): Promise<RecordedEvent[]> {
    const out: RecordedEvent[] = [];
    try {
      for await (const resolved of this.client.readStream(stream, { direction, fromRevision: from, maxCount })) {
        if (resolved.event) out.push(toRecorded(resolved.event));
      }
    } catch (error) {
      if (error instanceof this.esdb.StreamNotFoundError) return [];
      throw error;
    }
    return out;
  }

  /** One page of `$all` as EventStoreDB returns it (system events included), and how many entries it held. */
  private async readAllPage(
    from: ReadPosition,
    direction: Direction,
    maxCount: number,
  ): Promise<{ events: AllStreamRecordedEvent[]; raw: number }> {
    const events: AllStreamRecordedEvent[] = [];
    let raw = 0;
    for await (const resolved of this.client.readAll({ fromPosition: from, direction, maxCount })) {
      raw++;
      if (resolved.event) events.push(resolved.event);
    }
    return { events, raw };
  }

  /** The non-system events of `$all` strictly after `after`, in order, read a page at a time. */
  private async *scanForward(after: bigint, pageSize: number): AsyncGenerator<RecordedEvent> {
    let from = toReadPosition(after);
    let floor: Position | undefined = after > 0n ? { commit: after, prepare: after } : undefined;
    while (true) {
      const { events, raw } = await this.readAllPage(from, 'forwards', pageSize);
      for (const event of events) {
        // The read starts at (includes) the checkpoint, and each later page at the last event seen.
        if (floor && comparePositions(event.position, floor) <= 0) continue;
        floor = event.position;
        if (isSystemEvent(event.streamId, event.type)) continue;
        yield toRecorded(event);
      }
      if (raw < pageSize || events.length === 0) return;
      from = events[events.length - 1].position;
    }
  }

  /** Opens (once) the live subscription that wakes idle readers; resolves when the server confirmed it. */
  private ensureListening(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.wake ??= this.openWakeSubscription();
    return this.wake.ready;
  }

  private openWakeSubscription(): { subscription: AllStreamSubscription; ready: Promise<void> } {
    const subscription = this.client.subscribeToAll({ fromPosition: 'end', filter: this.esdb.excludeSystemEvents() });
    const ready = new Promise<void>((resolve, reject) => {
      subscription.once('confirmation', () => resolve());
      subscription.once('error', reject);
      subscription.once('close', () => reject(new Error('the EventStoreDB subscription closed before it was confirmed')));
    });
    // Callers of ensureListening see a failure; nobody else needs to.
    ready.catch(() => undefined);
    const wake = { subscription, ready };
    const lost = () => {
      if (this.wake !== wake) return;
      this.wake = undefined;
      subscription.unsubscribe().catch(() => undefined);
      if (this.closed) return;
      // Readers re-read after a reconnect, so nothing appended meanwhile is missed.
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = undefined;
        this.ensureListening().then(
          () => this.notifier.notify(),
          () => undefined,
        );
      }, WAKE_RECONNECT_MS);
    };
    subscription.on('data', () => this.notifier.notify());
    subscription.on('error', lost);
    subscription.on('close', lost);
    return wake;
  }

  private track(subscription: AllSubscription): AllSubscription {
    this.subscriptions.add(subscription);
    const forget = () => this.subscriptions.delete(subscription);
    subscription.done.then(forget, forget);
    return subscription;
  }
}

/** A stored event as the port returns it (see {@link unwrapMetadata} for events of other clients). */
function toRecorded(event: EsdbRecordedEvent): RecordedEvent {
  const envelope = unwrapMetadata(event.id, event.metadata);
  const foreignMetadata = event.metadata === undefined || event.metadata instanceof Uint8Array ? null : (event.metadata as JsonValue);
  return {
    id: envelope ? envelope.id : event.id,
    stream: event.streamId,
    revision: event.revision,
    position: positionOf(event.position),
    type: event.type,
    data: event.data instanceof Uint8Array ? Buffer.from(event.data).toString('base64') : (event.data as JsonValue),
    metadata: envelope ? envelope.metadata : foreignMetadata,
    recordedAt: event.created,
  };
}
