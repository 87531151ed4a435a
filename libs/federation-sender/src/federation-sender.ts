/**
 * Outbound federation: per-destination queues fed from the event store, sent as transactions
 * (`PUT /_matrix/federation/v1/send/{txnId}`) with exponential backoff. See docs/federation.md,
 * "Outbound transactions", for the design; in short:
 *
 * * One shared reader follows `$all` and hands each room event of ours (and each public
 *   receipt of ours) to the queue of every server it must reach.
 * * Each destination has a persisted position: everything due to it up to there was
 *   acknowledged. A transaction's range of positions is stored before it is sent, and after a
 *   restart the same range goes again under the same transaction id, so the receiver (which
 *   deduplicates on origin and transaction id) never sees an event twice under two ids and no
 *   event is skipped.
 * * A destination that falls behind the shared reader (its queue grew too long, or it was down
 *   during a restart) reads the store alone from its own position until it catches up.
 * * Ephemeral EDUs (typing, later presence and device lists) are queued in memory only.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { AppendNotifier, type AllSubscription, type EventStore, type RecordedEvent } from '@hs/eventstore';
import type { FederationClient } from '@hs/keys';
import { isValidServerName } from '@hs/protocol';
import type { Logger } from 'pino';
import type { DatabasePool } from 'slonik';
import { DEFAULT_BACKOFF, backoffDelay, type BackoffSettings } from './backoff';
import type { DestinationResolver } from './destination-resolver';
import { DestinationStore } from './destination-store';
import { guestAccessRevokedIn, isLocalUser, joinOf, outboundRecord, typingEdu, type Edu, type StoredItem } from './outbound';

/** The spec's limits on one transaction. */
export const MAX_PDUS_PER_TRANSACTION = 50;
export const MAX_EDUS_PER_TRANSACTION = 100;

export interface FederationSenderOptions {
  /** Our server name: the origin of transactions. */
  serverName: string;
  store: EventStore;
  /** The database of the sender's tables (migrations/federation-sender). */
  pool: DatabasePool;
  /** Signs and sends the requests (X-Matrix, TLS). */
  client: Pick<FederationClient, 'request'>;
  /** Which servers each event or room goes to. */
  resolver: DestinationResolver;
  logger: Logger;
  clock?: () => number;
  backoff?: BackoffSettings;
  /** Items (PDUs and stored EDUs) a destination holds in memory before it reads the store alone (default 1000). */
  maxQueuedItems?: number;
  /** Ephemeral EDUs a destination holds; the oldest are dropped beyond (default 1000). */
  maxQueuedEphemeral?: number;
  /** Store records per read (default 500). */
  readBatchSize?: number;
  /** How often positions that only moved over events of no concern to a destination are stored (default 5000 ms). */
  persistIntervalMs?: number;
  random?: () => number;
}

/** A typing change of a user, as the typing store reports it. */
export interface TypingChange {
  roomId: string;
  userId: string;
  typing: boolean;
}

/** What a destination's queue looks like (for operators and tests). */
export interface DestinationStatus {
  destination: string;
  /** Everything due up to this store position was acknowledged. */
  acknowledged: bigint;
  /** Items read for it and not yet acknowledged (in flight included). */
  queued: number;
  ephemeral: number;
  /** The id of the transaction in flight, if any. */
  inFlight?: string;
  failures: number;
  /** When the next attempt may start (ms since the epoch; 0: now). */
  retryAt: number;
  /** It reads the store alone until it reaches the shared reader. */
  behind: boolean;
}

/** The body of PUT /send/{txnId}. */
export interface TransactionBody {
  origin: string;
  origin_server_ts: number;
  pdus: unknown[];
  edus?: Edu[];
  [key: string]: unknown;
}

interface Transaction {
  id: string;
  /** The store range it covers; absent for a transaction of ephemeral EDUs only. */
  range?: { from: bigint; to: bigint };
  body: TransactionBody;
  /** Stored items it carries (taken off the front of the queue once it is declared). */
  itemCount: number;
  /** Ephemeral EDUs it carries, by key. */
  ephemeral: [string, Edu][];
  /** Already stored as the destination's transaction in flight (a resend after a restart). */
  declared: boolean;
}

interface Lane {
  destination: string;
  /** Wakes the lane: new items, a reachable destination, the sender stopping. */
  readonly wake: AppendNotifier;
  /** Everything due up to here was acknowledged. */
  acked: bigint;
  /** The position stored for the destination. */
  persisted: bigint;
  /** Every item due up to here is in flight, queued or acknowledged. */
  covered: bigint;
  /** Items due in (acked or the transaction in flight, covered], in order. */
  queue: StoredItem[];
  ephemeral: Map<string, Edu>;
  inflight?: Transaction;
  /** A transaction stored as in flight before a restart: sent again with the same id and range. */
  pinned?: { to: bigint; txnId: string };
  failures: number;
  retryAt: number;
}

interface Routed {
  item: StoredItem;
  destinations: readonly string[];
}

type SendOutcome = { ok: true; body: Record<string, unknown> } | { ok: false; reason: string } | { stopped: true };

const DEFAULT_PERSIST_INTERVAL_MS = 5_000;
const READER_MIN_RETRY_MS = 100;
const READER_MAX_RETRY_MS = 30_000;

export class FederationSender {
  private readonly lanes = new Map<string, Lane>();
  private readonly creating = new Map<string, Promise<Lane>>();
  private readonly positions: DestinationStore;
  private readonly clock: () => number;
  private readonly backoff: BackoffSettings;
  private readonly random: () => number;
  private readonly log: Logger;
  private readonly maxQueued: number;
  private readonly maxEphemeral: number;
  private readonly batchSize: number;
  /** Every store record up to here was handed out by the shared reader. */
  private readerPosition = 0n;
  private persistedReaderPosition = 0n;
  private running = false;
  private abort = new AbortController();
  private reader?: AllSubscription;
  private readonly loops: Promise<void>[] = [];
  private flushTimer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  /** Names ephemeral-only transactions of this run apart from every other run's. */
  private readonly runId: string;
  private ephemeralCount = 0;
  /** Typing changes being queued, in order. */
  private typing: Promise<void> = Promise.resolve();
  private readonly joinListeners = new Set<(roomId: string, userId: string) => void>();
  private readonly guestAccessListeners = new Set<(roomId: string) => void>();

  constructor(private readonly options: FederationSenderOptions) {
    this.positions = new DestinationStore(options.pool);
    this.clock = options.clock ?? Date.now;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.random = options.random ?? Math.random;
    this.log = options.logger.child({ component: 'federation-sender' });
    this.maxQueued = Math.max(MAX_PDUS_PER_TRANSACTION + MAX_EDUS_PER_TRANSACTION, options.maxQueuedItems ?? 1_000);
    this.maxEphemeral = Math.max(1, options.maxQueuedEphemeral ?? 1_000);
    this.batchSize = options.readBatchSize ?? 500;
    this.runId = `${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
  }

  get serverName(): string {
    return this.options.serverName;
  }

  /** Loads the destinations, then starts the shared reader and a loop per destination. */
  async start(): Promise<void> {
    if (this.running) return;
    this.abort = new AbortController();
    this.lanes.clear();
    for (const stored of await this.positions.destinations()) {
      const lane = this.newLane(stored.destination, stored.position);
      if (stored.inflight) lane.pinned = stored.inflight;
      lane.failures = stored.failures;
      lane.retryAt = stored.retryAt;
      this.lanes.set(lane.destination, lane);
    }
    // A first start sends nothing of what the store held before: other servers get history by backfill.
    this.readerPosition = await this.positions.readerPosition(() => this.options.store.headPosition());
    this.persistedReaderPosition = this.readerPosition;
    this.running = true;
    this.loops.push(this.runReader());
    for (const lane of this.lanes.values()) this.loops.push(this.runLane(lane));
    const interval = this.options.persistIntervalMs ?? DEFAULT_PERSIST_INTERVAL_MS;
    this.flushTimer = setInterval(() => void this.flush(), interval);
    this.flushTimer.unref();
    this.log.info({ destinations: this.lanes.size, position: String(this.readerPosition) }, 'federation sender started');
  }

  /**
   * Stops reading and sending. A transaction in flight is abandoned (it goes again, with the
   * same id, after the next start); positions that moved are stored.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort.abort();
    if (this.flushTimer) clearInterval(this.flushTimer);
    for (const lane of this.lanes.values()) lane.wake.notify();
    await this.reader?.close();
    await Promise.all(this.loops);
    this.loops.length = 0;
    await this.flush();
    this.log.info('federation sender stopped');
  }

  /**
   * Queues an ephemeral EDU for each destination (our own server is left out). With a `key`, it
   * replaces an EDU of the same key that is still queued (e.g. a user's previous typing state).
   * Not persisted: a restart loses what is queued.
   */
  enqueueEdu(destinations: Iterable<string>, edu: Edu, key?: string): void {
    if (!this.running) return;
    for (const destination of this.cleanDestinations(destinations)) {
      const lane = this.lanes.get(destination);
      if (lane) this.queueEphemeral(lane, edu, key);
      else {
        this.laneFor(destination, this.readerPosition).then(
          (created) => this.queueEphemeral(created, edu, key),
          (error: unknown) => this.log.error({ destination, err: error }, 'could not add a federation destination'),
        );
      }
    }
  }

  /**
   * A typing change: sent to the room's servers when the user is one of ours. Changes are
   * queued in the order they happen (a later one replaces an earlier one still queued).
   */
  typingChanged(change: TypingChange): Promise<void> {
    if (!this.running || !isLocalUser(change.userId, this.serverName)) return Promise.resolve();
    this.typing = this.typing.then(async () => {
      try {
        const destinations = await this.options.resolver.roomDestinations(change.roomId);
        this.enqueueEdu(destinations, typingEdu(change.roomId, change.userId, change.typing), `m.typing ${change.roomId} ${change.userId}`);
      } catch (error) {
        this.log.warn({ room_id: change.roomId, err: error }, 'typing notification not sent over federation: the room servers could not be read');
      }
    });
    return this.typing;
  }

  /**
   * Tells `listener` of every join the shared reader goes over from now on (ours and other
   * servers' users; not outliers, soft-failed or backfilled events): what servers learn when
   * someone joins (e.g. presence) goes out from there. Returns the function that stops it.
   */
  onJoin(listener: (roomId: string, userId: string) => void): () => void {
    this.joinListeners.add(listener);
    return () => this.joinListeners.delete(listener);
  }

  /**
   * Tells `listener` of every room whose `m.room.guest_access` stops letting guests join, as the
   * shared reader goes over it (ours and other servers' changes). Returns the function that stops it.
   */
  onGuestAccessRevoked(listener: (roomId: string) => void): () => void {
    this.guestAccessListeners.add(listener);
    return () => this.guestAccessListeners.delete(listener);
  }

  /**
   * The server answered us or sent us something: if it is being backed off from, try it again
   * now (its failure count stays, so a new failure backs off as long as before).
   */
  markReachable(server: string): void {
    const lane = this.lanes.get(server);
    if (!lane || lane.retryAt === 0) return;
    lane.retryAt = 0;
    lane.wake.notify();
  }

  status(): DestinationStatus[] {
    return [...this.lanes.values()]
      .map((lane) => ({
        destination: lane.destination,
        acknowledged: this.idle(lane) ? lane.covered : lane.acked,
        queued: lane.queue.length,
        ephemeral: lane.ephemeral.size,
        ...(lane.inflight ? { inFlight: lane.inflight.id } : lane.pinned ? { inFlight: lane.pinned.txnId } : {}),
        failures: lane.failures,
        retryAt: lane.retryAt,
        behind: lane.covered < this.readerPosition,
      }))
      .sort((a, b) => (a.destination < b.destination ? -1 : 1));
  }

  // ---------------------------------------------------------------------------------------
  // The shared reader

  private async runReader(): Promise<void> {
    for (let failures = 0; this.running; ) {
      const start = this.readerPosition;
      const subscription = this.options.store.subscribeToAllBatches(start, (events) => this.handOut(events), { batchSize: this.batchSize, minReadIntervalMs: 15 });
      this.reader = subscription;
      try {
        await subscription.done;
      } catch (error) {
        if (this.running) this.log.error({ err: error }, 'reading the event store for federation failed; reading again');
      }
      this.reader = undefined;
      failures = this.readerPosition > start ? 0 : failures + 1;
      if (this.running) await this.sleep(Math.min(READER_MAX_RETRY_MS, READER_MIN_RETRY_MS * 2 ** Math.min(failures, 20)));
    }
  }

  /** Hands a batch of `$all` to the queues of the destinations it concerns. */
  private async handOut(events: RecordedEvent[]): Promise<void> {
    const after = this.readerPosition;
    const end = events[events.length - 1].position;
    const routed = await this.route(events);
    // A destination seen for the first time: nothing before this item was due to it.
    for (const { item, destinations } of routed) {
      for (const destination of destinations) if (!this.lanes.has(destination)) await this.laneFor(destination, item.position - 1n);
    }
    // From here on synchronously, so that no lane moves meanwhile.
    const byLane = new Map<string, StoredItem[]>();
    for (const { item, destinations } of routed) {
      for (const destination of destinations) {
        const items = byLane.get(destination);
        if (items) items.push(item);
        else byLane.set(destination, [item]);
      }
    }
    for (const lane of this.lanes.values()) {
      // A lane behind this batch reads the store alone; one ahead of it has these items already.
      if (lane.covered < after || lane.covered >= end) continue;
      const items = (byLane.get(lane.destination) ?? []).filter((item) => item.position > lane.covered);
      this.append(lane, items, end);
    }
    this.readerPosition = end;
    if (this.joinListeners.size > 0) {
      for (const record of events) {
        const join = joinOf(record);
        if (join) for (const listener of this.joinListeners) listener(join.roomId, join.userId);
      }
    }
    if (this.guestAccessListeners.size > 0) {
      for (const record of events) {
        const roomId = guestAccessRevokedIn(record);
        if (roomId) for (const listener of this.guestAccessListeners) listener(roomId);
      }
    }
  }

  /** The items of these records and where each goes (our server and invalid names left out). */
  private async route(records: readonly RecordedEvent[]): Promise<Routed[]> {
    const outbound = records.flatMap((record) => {
      const found = outboundRecord(record, this.serverName);
      return found ? [found] : [];
    });
    if (outbound.length === 0) return [];
    const facts = outbound.flatMap((o) => (o.kind === 'event' ? [o.fact] : []));
    const eventDestinations = facts.length > 0 ? await this.options.resolver.eventDestinations(facts) : new Map<string, readonly string[]>();
    const roomDestinations = new Map<string, readonly string[]>();
    const routed: Routed[] = [];
    for (const o of outbound) {
      let destinations: readonly string[];
      if (o.kind === 'event') destinations = eventDestinations.get(o.fact.event_id) ?? [];
      else {
        let servers = roomDestinations.get(o.roomId);
        if (!servers) {
          servers = await this.options.resolver.roomDestinations(o.roomId);
          roomDestinations.set(o.roomId, servers);
        }
        destinations = servers;
      }
      const cleaned = this.cleanDestinations(destinations);
      if (cleaned.length > 0) routed.push({ item: o.item, destinations: cleaned });
    }
    return routed;
  }

  private cleanDestinations(destinations: Iterable<string>): string[] {
    const result = new Set<string>();
    for (const destination of destinations) {
      if (destination !== this.serverName && isValidServerName(destination)) result.add(destination);
    }
    return [...result];
  }

  // ---------------------------------------------------------------------------------------
  // Destinations

  private newLane(destination: string, position: bigint): Lane {
    return {
      destination,
      wake: new AppendNotifier(),
      acked: position,
      persisted: position,
      covered: position,
      queue: [],
      ephemeral: new Map(),
      failures: 0,
      retryAt: 0,
    };
  }

  /** The lane of a destination, stored (from `position`) and started when it is new. */
  private laneFor(destination: string, position: bigint): Promise<Lane> {
    const existing = this.lanes.get(destination);
    if (existing) return Promise.resolve(existing);
    let creating = this.creating.get(destination);
    if (!creating) {
      creating = this.positions.addDestination(destination, position).then(() => {
        const lane = this.newLane(destination, position);
        this.lanes.set(destination, lane);
        if (this.running) this.loops.push(this.runLane(lane));
        return lane;
      });
      this.creating.set(destination, creating);
      const forget = () => this.creating.delete(destination);
      creating.then(forget, forget);
    }
    return creating;
  }

  /** Adds the items due in (lane.covered, upTo]; a queue grown too long is cut and read again later. */
  private append(lane: Lane, items: readonly StoredItem[], upTo: bigint): void {
    lane.queue.push(...items);
    lane.covered = upTo;
    if (lane.queue.length > this.maxQueued) {
      lane.queue.length = this.maxQueued;
      lane.covered = lane.queue[lane.queue.length - 1].position;
    }
    if (items.length > 0 || lane.pinned) lane.wake.notify();
  }

  private queueEphemeral(lane: Lane, edu: Edu, key: string | undefined): void {
    const id = key ?? `#${++this.ephemeralCount}`;
    lane.ephemeral.delete(id);
    lane.ephemeral.set(id, edu);
    while (lane.ephemeral.size > this.maxEphemeral) {
      const oldest = lane.ephemeral.keys().next().value;
      if (oldest === undefined) break;
      lane.ephemeral.delete(oldest);
    }
    lane.wake.notify();
  }

  /** Nothing is queued or in flight: everything due up to `covered` was acknowledged. */
  private idle(lane: Lane): boolean {
    return !lane.inflight && !lane.pinned && lane.queue.length === 0;
  }

  private async runLane(lane: Lane): Promise<void> {
    while (this.running) {
      const seen = lane.wake.version;
      try {
        const wait = lane.retryAt - this.clock();
        if (wait > 0) {
          await lane.wake.wait(seen, wait, this.abort.signal);
          continue;
        }
        if (!lane.inflight) {
          if (this.mustReadAlone(lane)) {
            await this.catchUp(lane);
            continue;
          }
          const transaction = this.nextTransaction(lane);
          if (!transaction) {
            await lane.wake.wait(seen, Infinity, this.abort.signal);
            continue;
          }
          if (transaction.range && !transaction.declared) {
            await this.positions.declareTransaction(lane.destination, transaction.range.from, transaction.range.to, transaction.id);
            lane.persisted = transaction.range.from;
          }
          this.take(lane, transaction);
        }
        if (lane.inflight) await this.attempt(lane, lane.inflight);
      } catch (error) {
        if (!this.running) break;
        // The database or the store failed: try again later, as for an unreachable server.
        lane.failures++;
        const retryIn = backoffDelay(lane.failures, this.backoff, this.random);
        lane.retryAt = this.clock() + retryIn;
        this.log.error({ destination: lane.destination, err: error, retry_in_ms: retryIn }, 'federation queue failed; retrying later');
      }
    }
  }

  /** The lane is behind the shared reader and has nothing to send (or not yet all of a resend). */
  private mustReadAlone(lane: Lane): boolean {
    if (lane.covered >= this.readerPosition) return false;
    if (lane.pinned && lane.covered < lane.pinned.to) return true;
    return lane.queue.length === 0;
  }

  /** Reads one page of the store after the lane's position, for this destination alone. */
  private async catchUp(lane: Lane): Promise<void> {
    const from = lane.covered;
    const records = await this.options.store.readAll({ fromPosition: from, limit: this.batchSize });
    if (records.length === 0) {
      // Held back by a transaction still in flight in the database: the reader sees it first.
      await this.sleep(50);
      return;
    }
    const routed = await this.route(records);
    const end = records[records.length - 1].position;
    // The shared reader may have fed the lane meanwhile.
    if (end <= lane.covered) return;
    const covered = lane.covered;
    const items = routed.filter((r) => r.item.position > covered && r.destinations.includes(lane.destination)).map((r) => r.item);
    this.append(lane, items, end);
  }

  /** The next transaction of the lane (its queue left as it is), or undefined when there is nothing to send. */
  private nextTransaction(lane: Lane): Transaction | undefined {
    if (lane.pinned) {
      const pinned = lane.pinned;
      if (lane.covered < pinned.to) return undefined;
      let count = 0;
      while (count < lane.queue.length && lane.queue[count].position <= pinned.to) count++;
      if (count === 0) {
        // Nothing in its range is due any more (receipts go to the room's servers of now).
        lane.pinned = undefined;
        lane.acked = pinned.to;
        void this.positions.acknowledge(lane.destination, pinned.to).then(
          () => (lane.persisted = pinned.to > lane.persisted ? pinned.to : lane.persisted),
          (error: unknown) => this.log.error({ destination: lane.destination, err: error }, 'could not store a federation position'),
        );
        return this.nextTransaction(lane);
      }
      return this.transaction(lane, pinned.txnId, lane.queue.slice(0, count), [], true);
    }
    const items: StoredItem[] = [];
    let pdus = 0;
    let edus = 0;
    for (const item of lane.queue) {
      if (item.kind === 'pdu' && pdus === MAX_PDUS_PER_TRANSACTION) break;
      if (item.kind === 'edu' && edus === MAX_EDUS_PER_TRANSACTION) break;
      items.push(item);
      if (item.kind === 'pdu') pdus++;
      else edus++;
    }
    const ephemeral = [...lane.ephemeral].slice(0, MAX_EDUS_PER_TRANSACTION - edus);
    if (items.length === 0 && ephemeral.length === 0) return undefined;
    const id = items.length > 0 ? `${lane.acked}_${items[items.length - 1].position}` : `e${this.runId}_${++this.ephemeralCount}`;
    return this.transaction(lane, id, items, ephemeral, false);
  }

  private transaction(lane: Lane, id: string, items: StoredItem[], ephemeral: [string, Edu][], declared: boolean): Transaction {
    const pdus = items.flatMap((item) => (item.kind === 'pdu' ? [item.pdu] : []));
    const edus = [...items.flatMap((item) => (item.kind === 'edu' ? [item.edu] : [])), ...ephemeral.map(([, edu]) => edu)];
    const body: TransactionBody = { origin: this.serverName, origin_server_ts: this.clock(), pdus };
    if (edus.length > 0) body.edus = edus;
    const to = items.length > 0 ? (declared && lane.pinned ? lane.pinned.to : items[items.length - 1].position) : undefined;
    return { id, ...(to !== undefined ? { range: { from: lane.acked, to } } : {}), body, itemCount: items.length, ephemeral, declared };
  }

  /** Makes `transaction` the lane's transaction in flight: its items and EDUs leave the queues. */
  private take(lane: Lane, transaction: Transaction): void {
    lane.queue.splice(0, transaction.itemCount);
    for (const [key, edu] of transaction.ephemeral) if (lane.ephemeral.get(key) === edu) lane.ephemeral.delete(key);
    lane.inflight = transaction;
  }

  /** Sends the transaction in flight once; on success the lane moves on, on failure it backs off. */
  private async attempt(lane: Lane, transaction: Transaction): Promise<void> {
    const outcome = await this.send(lane.destination, transaction);
    if ('stopped' in outcome) return;
    if (outcome.ok) {
      if (transaction.range) await this.positions.acknowledge(lane.destination, transaction.range.to);
      else if (lane.failures > 0) await this.positions.acknowledge(lane.destination);
      if (transaction.range) {
        lane.acked = transaction.range.to;
        lane.persisted = transaction.range.to;
      }
      lane.inflight = undefined;
      lane.pinned = undefined;
      lane.failures = 0;
      lane.retryAt = 0;
      this.reportRejectedPdus(lane.destination, transaction.id, outcome.body);
      return;
    }
    lane.failures++;
    const retryIn = backoffDelay(lane.failures, this.backoff, this.random);
    lane.retryAt = this.clock() + retryIn;
    this.log.warn(
      { destination: lane.destination, txn_id: transaction.id, reason: outcome.reason, failures: lane.failures, retry_in_ms: retryIn },
      'federation transaction failed; retrying later',
    );
    await this.positions.recordFailure(lane.destination, lane.failures, lane.retryAt, outcome.reason);
  }

  private async send(destination: string, transaction: Transaction): Promise<SendOutcome> {
    const signal = this.abort.signal;
    if (signal.aborted) return { stopped: true };
    const request = this.options.client
      .request(destination, { method: 'PUT', path: `/_matrix/federation/v1/send/${encodeURIComponent(transaction.id)}`, body: transaction.body })
      .then(
        (response): SendOutcome => ({ ok: true, body: response.body }),
        (error: unknown): SendOutcome => ({ ok: false, reason: reasonOf(error) }),
      );
    let onAbort: (() => void) | undefined;
    const stopped = new Promise<SendOutcome>((resolve) => {
      onAbort = () => resolve({ stopped: true });
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([request, stopped]);
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  /** PDUs the destination refused in a transaction it accepted are not sent again; they are logged. */
  private reportRejectedPdus(destination: string, txnId: string, body: Record<string, unknown>): void {
    const results = body.pdus;
    if (typeof results !== 'object' || results === null) return;
    const refused = Object.entries(results as Record<string, unknown>).flatMap(([eventId, result]) => {
      const error = typeof result === 'object' && result !== null ? (result as { error?: unknown }).error : undefined;
      return typeof error === 'string' ? [{ event_id: eventId, error: error.slice(0, 200) }] : [];
    });
    if (refused.length > 0) this.log.info({ destination, txn_id: txnId, refused: refused.slice(0, 5), refused_count: refused.length }, 'the destination refused PDUs of a transaction');
  }

  // ---------------------------------------------------------------------------------------

  /** Stores positions that moved over events of no concern to their destination, and the reader's. */
  private flush(): Promise<void> {
    this.flushing ??= (async () => {
      try {
        for (const lane of this.lanes.values()) {
          if (!this.idle(lane)) continue;
          if (lane.covered > lane.acked) lane.acked = lane.covered;
          if (lane.acked <= lane.persisted) continue;
          const position = lane.acked;
          await this.positions.passOver(lane.destination, position);
          if (position > lane.persisted) lane.persisted = position;
        }
        const reader = this.readerPosition;
        if (reader > this.persistedReaderPosition) {
          await this.positions.saveReaderPosition(reader);
          this.persistedReaderPosition = reader;
        }
      } catch (error) {
        this.log.error({ err: error }, 'could not store federation positions; trying again later');
      } finally {
        this.flushing = undefined;
      }
    })();
    return this.flushing;
  }

  private async sleep(ms: number): Promise<void> {
    try {
      await delay(ms, undefined, { signal: this.abort.signal });
    } catch {
      // Stopped.
    }
  }
}

function reasonOf(error: unknown): string {
  if (error && typeof error === 'object' && 'reason' in error && typeof (error as { reason: unknown }).reason === 'string') {
    return (error as { reason: string }).reason;
  }
  return error instanceof Error ? error.message : String(error);
}
