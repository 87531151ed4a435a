/**
 * Pushes room events to application services (`PUT {url}/_matrix/app/v1/transactions/{txnId}`),
 * reading them from the event store, never in the path of the request that sent them.
 *
 * * Each service with a URL has its own reader of `$all`, from its persisted position, so a
 *   service that is down holds up no other.
 * * A transaction's body, id and the store position it reaches are stored before it is sent;
 *   the position moves only once the service answered 2xx. A service that does not answer is
 *   retried with exponential backoff, with the same id and body, across restarts too: every
 *   event reaches it once, in store order (a service deduplicates on the transaction id).
 * * A service that asked for ephemeral events (`receive_ephemeral`) gets the public read
 *   receipts of its rooms with the room events, from the store, and their typing notifications
 *   as they change, in the next transaction (one of its own when no room event is due).
 *   Typing that waits for a service that is down is kept, the latest per room.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { EventStore, RecordedEvent } from '@hs/eventstore';
import { backoffDelay, type BackoffSettings } from '@hs/federation-sender';
import type { Logger } from 'pino';
import type { DatabasePool } from 'slonik';
import type { AppServiceClient } from './appservice-client';
import { interestingRooms, receiptEvents, selectInteresting, timelineEvents, type EphemeralEvent, type PositionedEvent } from './interest';
import type { AppService, AppServiceRegistry } from './registry';
import { TransactionStore, type InflightTransaction } from './transaction-store';

/** Events per transaction (what Synapse sends at most). */
export const MAX_EVENTS_PER_TRANSACTION = 100;

export interface AppServiceSenderOptions {
  registry: AppServiceRegistry;
  store: EventStore;
  /** The database of the sender's table (migrations/appservice) and of the room write model. */
  pool: DatabasePool;
  client: AppServiceClient;
  logger: Logger;
  /** Waits between attempts to a service that is down (default 1 s doubling up to 5 min). */
  backoff?: BackoffSettings;
  /** Store records per read (default 500). */
  readBatchSize?: number;
  random?: () => number;
}

/** What a service's lane looks like (for operators and tests). */
export interface AppServiceStatus {
  id: string;
  /** Every event due up to here was acknowledged. */
  acknowledged: bigint;
  /** The id of the transaction in flight, if any. */
  inFlight?: string;
  failures: number;
}

class Stopped extends Error {}

const DEFAULT_BACKOFF: BackoffSettings = { minMs: 1_000, maxMs: 5 * 60_000 };
/** How often a position that only moved over events of no interest is stored. */
const PASS_OVER_INTERVAL_MS = 5_000;
const READER_RETRY_MS = 1_000;
/** How long typing changes are gathered before they go in a transaction of their own. */
const EPHEMERAL_FLUSH_MS = 50;

interface Lane {
  service: AppService;
  position: bigint;
  lastTxn: bigint;
  inflight?: InflightTransaction;
  failures: number;
  passedOverAt: number;
  /** Cuts the wait before the next attempt short (the service was seen answering). */
  retryNow?: AbortController;
  /** Everything that reads or sends for this lane runs one after the other on this chain. */
  turn: Promise<void>;
  /** Typing notifications not sent yet, the latest per room. */
  typing: Map<string, EphemeralEvent>;
  flushTimer?: NodeJS.Timeout;
}

export class AppServiceSender {
  private readonly positions: TransactionStore;
  private readonly lanes: Lane[] = [];
  private readonly log: Logger;
  private readonly backoff: BackoffSettings;
  private abort = new AbortController();
  private running = false;
  private loops: Promise<void>[] = [];
  private stopListening?: () => void;

  constructor(private readonly options: AppServiceSenderOptions) {
    this.positions = new TransactionStore(options.pool);
    this.log = options.logger.child({ component: 'appservice-sender' });
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.abort = new AbortController();
    this.lanes.length = 0;
    for (const service of this.options.registry.services) {
      if (service.registration.url === null) continue;
      const stored = await this.positions.load(service.id, () => this.options.store.headPosition());
      // A start is a new attempt: the backoff begins again from its shortest wait.
      this.lanes.push({
        service,
        position: stored.position,
        lastTxn: stored.lastTxn,
        inflight: stored.inflight,
        failures: 0,
        passedOverAt: Date.now(),
        turn: Promise.resolve(),
        typing: new Map(),
      });
    }
    this.running = true;
    this.stopListening = this.options.client.onReachable((id) => this.lanes.find((lane) => lane.service.id === id)?.retryNow?.abort());
    this.loops = this.lanes.map((lane) => this.run(lane));
    if (this.lanes.length > 0) this.log.info({ services: this.lanes.map((lane) => lane.service.id) }, 'application service sender started');
  }

  /** Stops reading and sending; a transaction in flight goes again, with the same id, after the next start. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.stopListening?.();
    this.abort.abort();
    for (const lane of this.lanes) clearTimeout(lane.flushTimer);
    await Promise.all(this.loops);
    await Promise.all(this.lanes.map((lane) => lane.turn));
    this.loops = [];
    for (const lane of this.lanes) if (lane.inflight === undefined) await this.positions.passOver(lane.service.id, lane.position).catch(() => undefined);
  }

  status(): AppServiceStatus[] {
    return this.lanes.map((lane) => ({
      id: lane.service.id,
      acknowledged: lane.position,
      ...(lane.inflight ? { inFlight: lane.inflight.txn.toString() } : {}),
      failures: lane.failures,
    }));
  }

  /**
   * A room's typing users changed: services that asked for ephemeral events and are
   * interested in the room get its `m.typing` event soon.
   */
  async typingChanged(roomId: string, userIds: readonly string[]): Promise<void> {
    if (!this.running) return;
    for (const lane of this.lanes) {
      if (!lane.service.registration.receiveEphemeral) continue;
      const interested = await interestingRooms(lane.service, [roomId], this.options.pool).catch((error: unknown) => {
        this.log.warn({ appservice: lane.service.id, err: error }, 'typing not sent to an application service: its interest in the room could not be read');
        return new Set<string>();
      });
      if (!interested.has(roomId)) continue;
      lane.typing.set(roomId, { type: 'm.typing', room_id: roomId, content: { user_ids: [...userIds] } });
      lane.flushTimer ??= setTimeout(() => {
        lane.flushTimer = undefined;
        void this.inTurn(lane, () => this.sendEphemeral(lane, [])).catch(() => undefined);
      }, EPHEMERAL_FLUSH_MS);
    }
  }

  /** Runs `work` after everything queued on the lane before it. */
  private inTurn(lane: Lane, work: () => Promise<void>): Promise<void> {
    const next = lane.turn.then(work);
    lane.turn = next.catch(() => undefined);
    return next;
  }

  private async run(lane: Lane): Promise<void> {
    while (this.running) {
      try {
        const inflight = lane.inflight;
        if (inflight) await this.inTurn(lane, () => this.deliver(lane, inflight));
        const subscription = this.options.store.subscribeToAllBatches(lane.position, (records) => this.inTurn(lane, () => this.handle(lane, records)), {
          batchSize: this.options.readBatchSize ?? 500,
        });
        const stop = () => void subscription.close();
        this.abort.signal.addEventListener('abort', stop, { once: true });
        try {
          await subscription.done;
        } finally {
          this.abort.signal.removeEventListener('abort', stop);
        }
      } catch (error) {
        if (error instanceof Stopped || !this.running) return;
        this.log.error({ appservice: lane.service.id, err: error }, 'reading the event store for an application service failed; reading again');
        await delay(READER_RETRY_MS, undefined, { signal: this.abort.signal }).catch(() => undefined);
      }
    }
  }

  /** Sends what of a batch of `$all` concerns the service, in transactions, then moves its position past the batch. */
  private async handle(lane: Lane, records: RecordedEvent[]): Promise<void> {
    const end = records[records.length - 1].position;
    const interesting = await selectInteresting(lane.service, timelineEvents(records), this.options.pool);
    let receipts: EphemeralEvent[] = [];
    if (lane.service.registration.receiveEphemeral) {
      const all = receiptEvents(records);
      if (all.length > 0) {
        const rooms = await interestingRooms(lane.service, all.map((event) => event.room_id), this.options.pool);
        receipts = all.filter((event) => rooms.has(event.room_id));
      }
    }
    for (let start = 0; start < interesting.length; start += MAX_EVENTS_PER_TRANSACTION) {
      const chunk: PositionedEvent[] = interesting.slice(start, start + MAX_EVENTS_PER_TRANSACTION);
      const last = start + MAX_EVENTS_PER_TRANSACTION >= interesting.length;
      const ephemeral = last ? [...receipts, ...this.takeTyping(lane)] : [];
      await this.send(lane, { txn: lane.lastTxn + 1n, to: last ? end : chunk[chunk.length - 1].position, body: transactionBody(chunk.map((entry) => entry.event), ephemeral) });
    }
    if (interesting.length === 0 && receipts.length > 0) await this.sendEphemeral(lane, receipts, end);
    if (end > lane.position) {
      lane.position = end;
      if (Date.now() - lane.passedOverAt >= PASS_OVER_INTERVAL_MS) {
        lane.passedOverAt = Date.now();
        await this.positions.passOver(lane.service.id, end);
      }
    }
  }

  /** The typing notifications waiting for the lane, taken. */
  private takeTyping(lane: Lane): EphemeralEvent[] {
    const typing = [...lane.typing.values()];
    lane.typing.clear();
    return typing;
  }

  /** A transaction of ephemeral events only (`receipts` and the typing waiting); its position is `to` or the lane's. */
  private async sendEphemeral(lane: Lane, receipts: EphemeralEvent[], to = lane.position): Promise<void> {
    const ephemeral = [...receipts, ...this.takeTyping(lane)];
    if (ephemeral.length === 0 || !this.running) return;
    await this.send(lane, { txn: lane.lastTxn + 1n, to: to > lane.position ? to : lane.position, body: transactionBody([], ephemeral) });
  }

  /** Declares the transaction (stored before it is sent), then delivers it. */
  private async send(lane: Lane, transaction: InflightTransaction): Promise<void> {
    await this.positions.declare(lane.service.id, transaction);
    lane.lastTxn = transaction.txn;
    lane.inflight = transaction;
    await this.deliver(lane, transaction);
  }

  /** Sends the transaction until the service acknowledges it; throws {@link Stopped} when the sender stops first. */
  private async deliver(lane: Lane, transaction: InflightTransaction): Promise<void> {
    const id = transaction.txn.toString();
    for (;;) {
      if (!this.running) throw new Stopped();
      const outcome = await this.options.client.pushTransaction(lane.service, id, transaction.body, this.abort.signal);
      if (outcome.kind === 'ok') break;
      if (!this.running) throw new Stopped();
      lane.failures += 1;
      const reason = outcome.kind === 'status' ? `HTTP ${outcome.status}` : outcome.kind === 'timeout' ? 'timed out' : `connection failed (${outcome.reason})`;
      const wait = backoffDelay(lane.failures, this.backoff, this.options.random);
      this.log.warn({ appservice: lane.service.id, txn_id: id, failures: lane.failures, retry_in_ms: wait, reason }, 'an application service did not accept a transaction; retrying');
      await this.positions.recordFailure(lane.service.id, lane.failures, reason);
      lane.retryNow = new AbortController();
      await delay(wait, undefined, { signal: AbortSignal.any([this.abort.signal, lane.retryNow.signal]) }).catch(() => undefined);
      lane.retryNow = undefined;
      if (!this.running) throw new Stopped();
    }
    await this.positions.acknowledge(lane.service.id, transaction.to);
    lane.position = transaction.to > lane.position ? transaction.to : lane.position;
    lane.passedOverAt = Date.now();
    lane.inflight = undefined;
    lane.failures = 0;
  }
}

/** The body of a transaction: the room events, and the ephemeral events under the stable key and MSC2409's. */
function transactionBody(events: unknown[], ephemeral: EphemeralEvent[]): InflightTransaction['body'] {
  return ephemeral.length === 0 ? { events } : { events, ephemeral, 'de.sorunome.msc2409.ephemeral': ephemeral };
}
